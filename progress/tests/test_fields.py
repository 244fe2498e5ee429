"""RunState: the one list of a run's tracked fields (no database)."""

from __future__ import annotations

import dataclasses

import pytest

from progress.models import OperationProgress, Status
from progress.runtime.fields import (
    COUNTER_FIELDS,
    STATE_FIELDS,
    RunState,
    overall_fraction,
    percentage,
)


def test_every_state_field_is_a_column_of_the_row():
    columns = {field.name for field in OperationProgress._meta.concrete_fields}
    assert set(STATE_FIELDS) <= columns


def test_the_counters_are_what_a_bar_shows():
    assert COUNTER_FIELDS == (
        "current_operation",
        "current_item",
        "total_items",
        "items_added",
        "items_updated",
        "items_unchanged",
        "items_skipped",
        "items_failed",
    )


def test_the_state_has_slots_so_updates_stay_cheap():
    state = RunState(status=Status.RUNNING)
    with pytest.raises(AttributeError):
        state.typo = 1  # type: ignore[attr-defined]


def test_row_fields_set_every_state_field_plus_the_derived_ones():
    state = RunState(status=Status.RUNNING, current_operation="x" * 300, rate=1.23456)
    row = state.row_fields(percentage=12.5, metadata={"a": 1}, samples=[[0, 0, 0]])
    assert set(row) == {*STATE_FIELDS, "progress_percentage", "samples", "updated_at"}
    assert len(row["current_operation"]) == 255
    assert row["rate"] == 1.235
    assert row["metadata"] == {"a": 1}


def test_a_state_from_a_row_reads_every_field():
    row = OperationProgress(status=Status.QUEUED, current_item=4, seq=7, metadata={"k": 1})
    state = RunState.of(row)
    assert dataclasses.astuple(state) == tuple(
        {**{name: getattr(row, name) for name in STATE_FIELDS}}.values()
    )


@pytest.mark.parametrize(
    ("status", "current", "total", "expected"),
    [
        (Status.RUNNING, 5, 10, 0.5),
        (Status.RUNNING, 15, 10, 1.0),
        (Status.RUNNING, 0, 0, 1.0),
        (Status.RUNNING, 5, None, None),
        (Status.COMPLETED, 5, None, 1.0),
    ],
)
def test_overall_fraction_without_stages(status, current, total, expected):
    fraction = overall_fraction(
        status, current_item=current, total_items=total, stage_weights=[], stage=None
    )
    assert fraction == expected


def test_overall_fraction_with_stages_weights_them():
    weights = [2.0, 1.0, 1.0]
    stage = {"index": 2}
    kwargs = {"current_item": 2, "total_items": 4, "stage_weights": weights}
    assert overall_fraction(Status.RUNNING, stage=stage, **kwargs) == 0.625
    assert overall_fraction(Status.RUNNING, stage=None, **kwargs) == 0.0


def test_percentage_keeps_two_decimals_and_none():
    assert percentage(1 / 3) == 33.33
    assert percentage(None) is None
