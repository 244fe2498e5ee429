"""The four operations as management commands in their own process, watched over a WebSocket."""

from __future__ import annotations

import asyncio
import signal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from curation.demo import demo_curations, demo_scope
from curation.gene_import import gene_import
from curation.models import Curation, Gene
from curation.pipeline import scope_pipeline
from progress.models import OperationProgress, Status
from progress.runtime.writer import get_writer
from progress.testing import eventually
from progress.tests.factories import StaffFactory
from progress.tests.subprocesses import manage
from progress.tests.wsutil import open_socket, receive, receive_until
from progress.tracker import track_operation

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.usefixtures("fast_progress"),
]
FINAL = {"task_completed", "task_failed", "task_cancelled"}


def seeded_scope(*, curations: bool = True):
    scope = demo_scope()
    for source in scope.sources[:2]:
        with track_operation("seed") as tracker:
            from django.conf import settings

            gene_import(path=settings.BASE_DIR / source, scope=scope, tracker=tracker)
    if curations:
        demo_curations(scope)
    return scope


async def watch(*args: str) -> tuple[list[dict], str]:
    """Run a command in another process; return what a staff WebSocket saw, and its stdout."""
    staff = await asyncio.to_thread(StaffFactory)
    communicator, _ = await open_socket("/ws/progress/", staff)
    await receive(communicator)
    process = manage(*args, "--no-bar", redis=True)
    messages = await receive_until(communicator, lambda m: m["type"] in FINAL, timeout=60)
    out, err = await asyncio.to_thread(process.communicate, timeout=60)
    await communicator.disconnect()
    assert process.returncode == 0, err
    return messages, out


async def test_import_genes_command_streams_progress_to_a_websocket():
    # Paced a little: live states coalesce (the latest per run wins), so an unpaced 288-row
    # import may reach a busy socket as its final state alone.
    messages, out = await watch(
        "import_genes", "data/kidney-panels/cegat.json", "--scope", "k", "--pace", "0.003"
    )
    final = messages[-1]["data"]
    assert (final["status"], final["items_added"], final["total_items"]) == ("completed", 288, 288)
    assert any(
        m["type"] == "progress_update" and m["data"]["status"] == "running" for m in messages
    )
    assert f"live at http://127.0.0.1:8000/progress/{final['id']}/" in out
    assert "288 added, 0 updated, 0 unchanged, 0 skipped, 0 failed" in out


async def test_pipeline_command_reports_each_stage():
    scope = await asyncio.to_thread(seeded_scope)
    # Paced so each stage lasts long enough to be seen: live states coalesce (latest wins).
    messages, _out = await watch("run_curation_pipeline", "--scope", scope.name, "--pace", "0.002")
    stages = [m["data"]["metadata"].get("stage") for m in messages]
    seen = [s["name"] for s in stages if s]
    assert [name for i, name in enumerate(seen) if i == 0 or seen[i - 1] != name] == [
        "import",
        "validate",
        "score",
        "summarise",
    ]
    final = messages[-1]["data"]
    assert final["status"] == "completed" and final["progress_percentage"] == 100.0
    summary = final["metadata"]["summary"]
    curations = await asyncio.to_thread(Curation.objects.filter(scope=scope).count)
    assert summary["curations"] == curations > 0
    assert sum(summary["classifications"].values()) == curations
    # Stage results are a detail (never in live frames): read them from the run.
    run = await asyncio.to_thread(OperationProgress.objects.get, pk=final["id"])
    stages = {entry["name"]: entry for entry in run.metadata["stage_results"]}
    assert [s["status"] for s in stages.values()] == ["completed"] * 4
    assert stages["validate"]["details"]["invalid"] == stages["validate"]["failed"]
    for counter, headline in (("added", "items_added"), ("failed", "items_failed")):
        assert sum(s[counter] for s in stages.values()) == final[headline]
    # Stages count gene rows, curations and scopes: never added up into one "N of N".
    assert stages["import"]["unit"] == "gene rows" and stages["score"]["unit"] == "curations"
    assert (final["current_item"], final["total_items"]) == (1, 1)
    assert final["metadata"]["stage"]["unit"] == "scopes"


async def test_validate_and_score_commands_count_invalid_records_without_crashing():
    await asyncio.to_thread(seeded_scope)
    invalid = await asyncio.to_thread(plant_invalid_curation)
    messages, _out = await watch("validate_schemas")
    final = messages[-1]["data"]
    assert final["status"] == "completed"
    assert final["items_failed"] >= 1
    # Row errors are details, never broadcast: the frame says they exist, the run has them.
    assert "row_errors" in final["metadata"]["detail_keys"]
    assert final["metadata"]["row_errors_total"] == final["items_failed"]
    run = await asyncio.to_thread(OperationProgress.objects.get, pk=final["id"])
    reasons = {e["line"]: e["reason"] for e in run.metadata["row_errors"]}
    assert "contradictory_description: required" in reasons[invalid]

    messages, _out = await watch("calculate_scores", "--scope", "kidney-genetics")
    final = messages[-1]["data"]
    total = await asyncio.to_thread(Curation.objects.count)
    assert (final["status"], final["current_item"]) == ("completed", total)
    scored = await asyncio.to_thread(lambda: Curation.objects.exclude(classification="").count())
    assert scored == total


def plant_invalid_curation() -> int:
    curation = Curation.objects.order_by("pk").first()
    curation.evidence = {**curation.evidence, "contradictory_evidence": True}
    curation.save()
    return curation.pk


def slow_import_running(tmp_path):
    """A paced 3,000-row import in another process, once its run is running."""
    path = tmp_path / "slow.csv"
    path.write_text("hgnc_id,symbol\n" + "".join(f"{n},SLOW{n}\n" for n in range(1, 3001)))
    process = manage("import_genes", str(path), "--pace", "0.002", "--no-bar", redis=True)

    def running() -> OperationProgress | None:
        assert process.poll() is None, process.stderr.read()  # it died before starting
        return OperationProgress.objects.filter(status=Status.RUNNING).first()

    return process, eventually(running, 30, step=0.05)


def test_cancel_operation_command_stops_a_running_import_in_another_process(tmp_path):
    process, run = slow_import_running(tmp_path)
    call_command("cancel_operation", str(run.pk))
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130, err  # the status of an interrupted command
    assert f"Operation {run.pk} cancelled after" in out and "Error" not in err  # said plainly
    run.refresh_from_db()
    assert run.status == Status.CANCELLED
    assert run.current_item < 3000
    assert Gene.objects.count() == run.items_added  # counts match what was written


def test_ctrl_c_cancels_the_run_instead_of_leaving_it_running(tmp_path):
    process, _run = slow_import_running(tmp_path)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert OperationProgress.objects.get().status == Status.CANCELLED
    assert process.returncode == 130 and "CommandError" not in err and "Traceback" not in err
    assert "cancelled after" in out


def test_cancel_operation_refuses_finished_and_unknown_runs():
    with track_operation("done") as tracker:
        pass
    with pytest.raises(CommandError, match="already finished"):
        call_command("cancel_operation", str(tracker.id))
    with pytest.raises(CommandError, match="No operation"):
        call_command("cancel_operation", "999999")


def test_import_command_refuses_a_missing_file_before_starting_a_run():
    with pytest.raises(CommandError, match="is not a file"):
        call_command("import_genes", "/nonexistent/genes.csv")
    assert not OperationProgress.objects.exists()


def test_pipeline_command_names_the_known_scopes_for_an_unknown_one():
    seeded_scope(curations=False)
    with pytest.raises(CommandError, match=r"No scope 'nope' \(known: kidney-genetics\)"):
        call_command("run_curation_pipeline", "--scope", "nope")


def test_invalid_curations_make_the_pipeline_complete_with_failures():
    scope = seeded_scope()
    invalid = plant_invalid_curation()
    scope.sources = scope.sources[:1]
    scope.save(update_fields=["sources"])
    with track_operation("curation_pipeline") as tracker:
        scope_pipeline(scope=scope, tracker=tracker)
    get_writer().drain()
    run = OperationProgress.objects.get(pk=tracker.id)
    stages = {entry["name"]: entry for entry in run.metadata["stage_results"]}
    assert stages["validate"]["failed"] == stages["validate"]["details"]["invalid"] >= 1
    assert run.items_failed >= stages["validate"]["failed"]
    assert (run.status, run.outcome) == (Status.COMPLETED, "completed_with_failures")
    assert invalid in {entry["line"] for entry in run.metadata["row_errors"]}
