"""The periodic stall sweep of a serving process: started once per loop, sweeping on a timer."""

from __future__ import annotations

from progress import sweeper
from progress.tests.waiting import aeventually


async def test_the_sweep_starts_once_per_loop():
    sweeper.ensure_sweeper()
    task = sweeper._sweep_task
    sweeper.ensure_sweeper()
    assert sweeper._sweep_task is task
    task.cancel()


async def test_the_sweep_runs_every_interval_and_survives_a_failure(monkeypatch):
    calls = []

    def sweep():
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("database is down")
        return []

    monkeypatch.setattr(sweeper, "sweep_interval", lambda: 0.01)
    monkeypatch.setattr(sweeper, "dead_runs_sweep", sweep)
    sweeper._sweep_task = None
    sweeper.ensure_sweeper()
    try:
        await aeventually(lambda: len(calls) >= 3)
    finally:
        sweeper._sweep_task.cancel()
