"""The proposal's own client, unchanged in kind, against the product through a real daphne.

The proposal's Pinia store opens ws/progress (no trailing slash), handles
{"type": "progress_update" | "task_completed" | "task_failed", "data": {...}} frames and
keys the runs by data.operation_name, reconnecting when the socket closes. SEED_STORE below
is written the way that store is written, and runs in Chromium on one of the product's
pages (the browser sends the session cookie, as the proposal's app would).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from progress.testing import flush
from progress.tests.factories import StaffFactory
from progress.tests.waiting import eventually
from progress.tracker import track_operation
from tests.browser_helpers import browser, orm_beside_playwright, page_as  # noqa: F401
from tests.live import LiveStack

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.browser,
]

SEED_STORE = """
() => {
  const store = { operations: {}, frames: [], opened: 0 };
  function connect() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/ws/progress`);
    ws.onopen = () => { store.opened += 1; };
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data);
      store.frames.push(message.type);
      switch (message.type) {
        case 'progress_update':
        case 'task_completed':
        case 'task_failed':
          store.operations[message.data.operation_name] = message.data;
          break;
      }
    };
    ws.onclose = () => setTimeout(connect, 500);
  }
  connect();
  window.seedStore = store;
}
"""
NAMES = [f"seed_run_{n}" for n in range(6)]
STEPS = 40


def run(name: str, user: Any, *, fail: bool) -> None:
    try:
        with track_operation(name, user=user, total_items=STEPS) as tracker:
            for step in range(1, STEPS + 1):
                tracker.update(current_item=step)
                time.sleep(0.01)
            if fail:
                raise RuntimeError("the proposal's client must see this failure")
    except RuntimeError:
        pass


def store(page) -> dict:
    return page.evaluate("() => window.seedStore")


def finals_held(page) -> dict[str, tuple[str, int]]:
    return {
        name: (data["status"], data["current_item"])
        for name, data in store(page)["operations"].items()
        if data["status"] in ("completed", "failed")
    }


def test_the_proposals_client_holds_every_runs_final_state_across_a_restart(browser):  # noqa: F811
    stack = LiveStack(worker=False)
    try:
        staff = StaffFactory(is_superuser=True)
        page = page_as(browser, stack, staff)
        page.goto("/progress/")
        page.evaluate(SEED_STORE)
        eventually(lambda: store(page)["opened"] == 1, 20)

        threads = [
            threading.Thread(target=run, args=(name, staff), kwargs={"fail": n == 0})
            for n, name in enumerate(NAMES)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        flush()
        expected = {
            name: ("failed" if n == 0 else "completed", STEPS) for n, name in enumerate(NAMES)
        }
        eventually(lambda: finals_held(page) == expected, 20)
        frames = set(store(page)["frames"])
        assert frames <= {"progress_update", "task_completed", "task_failed"}, frames

        # The client reconnects by itself; its snapshot is per-run event frames as well.
        stack.kill_daphne()
        page.evaluate("() => { window.seedStore.operations = {}; }")
        stack.start_daphne()
        eventually(lambda: store(page)["opened"] >= 2, 30)
        eventually(lambda: finals_held(page) == expected, 20)
        assert set(store(page)["frames"]) <= {"progress_update", "task_completed", "task_failed"}
    finally:
        stack.stop()
