"""Launching through the task backends: a db_worker in another process, and the embedded default."""

from __future__ import annotations

import asyncio
import json
import os
import signal

import pytest
from rest_framework.test import APIClient

from curation.factories import ScopeFactory
from progress.models import OperationProgress, Status
from progress.tests.subprocesses import manage
from progress.tests.wsutil import open_socket, receive, receive_until

pytestmark = [pytest.mark.django_db(transaction=True)]


def start_via_api(user, name, data):
    client = APIClient()
    client.force_login(user)
    response = client.post(f"/api/v1/pipelines/{name}/start/", data, format="multipart")
    assert response.status_code == 202, response.content
    return response.json()


@pytest.mark.postgres
@pytest.mark.redis
async def test_api_start_runs_in_a_separate_db_worker_and_reaches_the_browser(
    curator, settings, tmp_path
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    signal_log = tmp_path / "signals.jsonl"
    worker = manage(
        "db_worker",
        "--interval",
        "0.1",
        redis=True,
        TASKS_BACKEND="db",
        DJANGO_SETTINGS_MODULE="tests.signal_recorder",
        SIGNAL_LOG=str(signal_log),
    )
    try:
        communicator, _ = await open_socket("/ws/progress/", curator)
        await receive(communicator)
        with open("data/kidney-panels/mvz_medicover.json", "rb") as panel:
            queued = await asyncio.to_thread(
                start_via_api, curator, "gene_import", {"file": panel, "scope": "worker"}
            )
        assert queued["status"] == "queued"
        messages = await receive_until(
            communicator,
            lambda m: (
                m["type"] in {"task_completed", "task_failed"} and m["data"]["id"] == queued["id"]
            ),
            timeout=60,
        )
        final = messages[-1]["data"]
        assert (final["status"], final["items_added"]) == ("completed", 125), final
        seqs = [m["data"]["seq"] for m in messages if m["data"]["id"] == queued["id"]]
        assert seqs == sorted(seqs)  # the worker's states, in order
        # A 125-row import's start and end may reach a busy socket as one state (the
        # latest per run wins); the table shows the worker ran it from the start.
        run = await asyncio.to_thread(OperationProgress.objects.get, pk=queued["id"])
        assert run.started_at is not None and run.started_at <= run.completed_at
        assert run.task_result_id == queued["task_result_id"]
        # The worker's process sent each transition's signal once, after its write.
        sent = [json.loads(line) for line in signal_log.read_text().splitlines()]
        assert [(s["signal"], s["id"], s["status"]) for s in sent] == [
            ("operation_started", queued["id"], None),
            ("operation_finished", queued["id"], "completed"),
        ]
        assert {s["pid"] for s in sent} != {os.getpid()}
        await communicator.disconnect()
    finally:
        worker.send_signal(signal.SIGINT)
        worker.communicate(timeout=20)


async def test_embedded_default_runs_the_task_in_this_process_without_services(curator, settings):
    """SQLite-style setup: in-memory layer and the thread-pool backend in the serving process."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_local.ThreadPoolBackend"}}
    await asyncio.to_thread(ScopeFactory, name="embedded", owner=curator)
    communicator, _ = await open_socket("/ws/progress/", curator)
    await receive(communicator)
    queued = await asyncio.to_thread(
        start_via_api, curator, "validate_schemas", {"scope": "embedded"}
    )
    messages = await receive_until(
        communicator, lambda m: m["type"] == "task_completed", timeout=30
    )
    assert messages[-1]["data"]["id"] == queued["id"]
    assert messages[-1]["data"]["status"] == Status.COMPLETED
    await communicator.disconnect()
