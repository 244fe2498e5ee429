"""Live run logs: records in a tracked block's context reach its run, bounded, never looping."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time

import pytest

from progress import protocol
from progress.models import OperationLogLine
from progress.runtime import logcapture
from progress.runtime.logcapture import RunLog, capturing, run_in_context
from progress.runtime.writer import get_writer, store_log_lines
from progress.tests.waiting import eventually
from progress.tests.wsutil import open_socket, receive_until
from progress.tracker import ProgressTracker, atrack_operation, track_operation

log = logging.getLogger("tests.logcapture")


@pytest.fixture(autouse=True)
def info_logger():
    """The root logger is at WARNING; this test logger lets INFO through, as curation's does."""
    previous = log.level
    log.setLevel(logging.DEBUG)
    logcapture.install()
    yield log
    log.setLevel(previous)


def run_log(level=logging.INFO, limit=1000):
    return RunLog(1, level=level, limit=limit)


def messages(sink):
    return [line.message for line in sink.pending]


# --- the handler and the context (no database) --------------------------------------


def test_records_are_attached_only_inside_the_block():
    sink = run_log()
    log.info("before")
    with capturing(sink):
        log.info("inside %s", 1)
    log.info("after")
    assert messages(sink) == ["inside 1"]
    line = sink.pending[0]
    assert (line.number, line.level, line.logger) == (1, logging.INFO, "tests.logcapture")


def test_records_below_the_level_are_not_attached():
    sink = run_log(level=logging.WARNING)
    with capturing(sink):
        log.info("chatter")
        log.warning("careful")
    assert messages(sink) == ["careful"]


def test_a_thread_started_with_run_in_context_logs_to_the_run_and_a_plain_one_does_not():
    sink = run_log()
    with capturing(sink):
        plain = threading.Thread(target=log.info, args=("plain thread",))
        copied = threading.Thread(target=run_in_context(log.info, "copied context"))
        for thread in (plain, copied):
            thread.start()
            thread.join()
    assert messages(sink) == ["copied context"]


def test_an_asyncio_task_started_inside_the_block_logs_to_the_run():
    sink = run_log()

    async def work():
        log.info("from a task")

    async def main():
        with capturing(sink):
            task = asyncio.create_task(work())
        await task  # it runs after the block ended: it kept the context it started with

    asyncio.run(main())
    assert messages(sink) == ["from a task"]


def test_messages_are_truncated_and_nul_free():
    sink = run_log()
    with capturing(sink):
        log.info("x" * 10_000)
        log.info("a\x00b")
    long, nul = messages(sink)
    assert len(long) == logcapture.MAX_MESSAGE_CHARS and long.endswith("…")
    assert nul == "a\ufffdb"


def test_an_exception_keeps_its_last_line():
    sink = run_log()
    with capturing(sink):
        try:
            raise KeyError("HGNC:42")
        except KeyError:
            log.exception("row failed")
    assert messages(sink) == ["row failed | KeyError: 'HGNC:42'"]


def test_the_queue_is_bounded_and_counts_every_record():
    sink = run_log(limit=50)
    with capturing(sink):
        for i in range(10_000):
            log.info("line %s", i)
    assert len(sink.pending) == 50
    assert sink.total == 10_000
    assert sink.pending[-1].message == "line 9999"


def test_a_record_logged_while_formatting_one_does_not_recurse(monkeypatch):
    # Only this handler: others would format the record too, each logging "formatting" once.
    monkeypatch.setattr(logging.getLogger(), "handlers", [logcapture._handler])
    monkeypatch.setattr(logging.getLogger("progress"), "handlers", [])
    sink = run_log()

    class Loud:
        def __str__(self):
            logging.getLogger("progress.tests").warning("formatting")
            return "loud"

    with capturing(sink):
        logging.getLogger("progress.tests").warning("value %s", Loud())
    assert messages(sink) == ["value loud"]


def test_records_from_the_progress_threads_are_never_attached():
    sink = run_log()
    with capturing(sink):
        thread = threading.Thread(
            target=run_in_context(log.warning, "writer"), name="progress-writer"
        )
        thread.start()
        thread.join()
    assert messages(sink) == []


def test_outside_a_block_unconfigured_warnings_still_reach_last_resort(monkeypatch, capsys):
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [logcapture._handler])
    logging.getLogger("tests.unconfigured").warning("still printed")
    assert "still printed" in capsys.readouterr().err


def test_log_frame_keeps_the_newest_lines_within_the_bound():
    sink = run_log(limit=1000)
    with capturing(sink):
        for i in range(1000):
            log.info("%s %s", i, "é" * 400)  # escaped to \\u00e9: about 2.4 KB per line
    lines = sink.take()
    frame = logcapture.log_frame(7, lines)
    assert len(frame.encode()) <= protocol.MAX_FRAME_BYTES
    decoded = json.loads(frame)
    assert decoded["type"] == "log" and decoded["id"] == 7
    assert decoded["lines"][-1]["number"] == 1000
    assert decoded["skipped"] == 1000 - len(decoded["lines"]) > 0


# --- through the writer and the table ------------------------------------------------


def stored(run_id):
    return list(
        OperationLogLine.objects.filter(run_id=run_id).values_list("number", "level", "message")
    )


@pytest.mark.django_db(transaction=True)
def test_a_runs_lines_are_stored_and_broadcast_to_its_own_group(fast_progress, published):
    with track_operation("logs") as tracker:
        log.info("one")
        log.warning("two")
    # The final state is written after the lines logged before it.
    assert stored(tracker.id) == [(1, logging.INFO, "one"), (2, logging.WARNING, "two")]
    groups = {group for group, _ in published.logs}
    assert groups == {f"progress.log.{tracker.id}"}
    sent = [line["message"] for _, m in published.logs for line in json.loads(m["text"])["lines"]]
    assert sent == ["one", "two"]
    assert published.logs[0][1]["type"] == "progress.log"


@pytest.mark.django_db(transaction=True)
def test_a_runs_lines_are_stored_before_they_are_broadcast(fast_progress, published, monkeypatch):
    # A page fetches the lines after its last one once its socket is in the log group; a
    # line broadcast before that must already be stored, or the page never shows it.
    stored_when_sent = []
    record = published.publish_log

    def publish_log(group, message):
        run_id = int(group.rsplit(".", 1)[1])
        stored_when_sent.append([m for _, _, m in stored(run_id)])
        record(group, message)

    monkeypatch.setattr(published, "publish_log", publish_log)
    with track_operation("ordered logs"):
        log.info("one")
    assert stored_when_sent and "one" in stored_when_sent[0]


@pytest.mark.django_db(transaction=True)
def test_lines_of_a_live_run_arrive_without_another_update(fast_progress, published):
    with track_operation("quiet") as tracker:
        log.info("while busy")
        eventually(lambda: stored(tracker.id) == [(1, logging.INFO, "while busy")])


@pytest.mark.django_db(transaction=True)
async def test_an_async_run_attaches_its_tasks_records(fast_progress, published):
    async def work():
        log.info("task line")

    async with atrack_operation("async logs") as tracker:
        log.info("block line")
        await asyncio.create_task(work())
    lines = await asyncio.to_thread(stored, tracker.id)
    assert [message for _, _, message in lines] == ["block line", "task line"]


@pytest.mark.service
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_run_logging_100000_lines_keeps_log_lines_stored_and_counts_the_rest(
    fast_progress, published
):
    fast_progress["LOG_LINES"] = 200
    peak = 0
    with track_operation("chatty") as tracker:
        for i in range(100_000):
            log.info("line %s", i)
            if i % 1000 == 0:
                peak = max(peak, len(tracker.run_log.pending))
    assert peak <= 200  # the in-memory queue is bounded too
    numbers = [n for n, _, _ in stored(tracker.id)]
    assert len(numbers) <= 200
    assert numbers[-1] == 100_000  # the newest are kept
    get_writer().drain()
    tracker_row = OperationLogLine.objects.filter(run_id=tracker.id).count()
    assert tracker_row == len(numbers)
    from progress.models import OperationProgress

    assert OperationProgress.objects.get(pk=tracker.id).metadata["log_lines"] == 100_000


@pytest.mark.django_db(transaction=True)
def test_storing_keeps_only_the_newest_lines(fast_progress, published):
    with track_operation("trim") as tracker:
        pass
    batch = [logcapture.LogLine(n, time.time(), logging.INFO, "x", f"m{n}") for n in range(1, 31)]
    store_log_lines(tracker.id, batch[:20], keep=10)
    store_log_lines(tracker.id, batch[20:], keep=10)
    assert [n for n, _, _ in stored(tracker.id)] == list(range(21, 31))


# --- the API -------------------------------------------------------------------------


def api(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def logged_run(user, fast_progress, published):
    fast_progress["LOG_LINES"] = 5
    with track_operation("api logs", user=user) as tracker:
        for i in range(1, 9):
            (log.warning if i % 2 else log.info)("line %s", i)
    return tracker.id


@pytest.mark.django_db(transaction=True)
def test_the_api_pages_a_runs_stored_lines_with_a_level_filter(user, logged_run):
    url = f"/api/v1/operations/{logged_run}/logs/"
    page = api(user).get(url, {"limit": 2}).json()
    assert [line["message"] for line in page["lines"]] == ["line 4", "line 5"]
    assert (page["next_after"], page["more"]) == (5, True)
    assert (page["total"], page["stored"], page["dropped"]) == (8, 5, 3)
    assert set(page["lines"][0]) == {"number", "time", "level", "logger", "message"}
    rest = api(user).get(url, {"after": 5, "level": "warning"}).json()
    assert [line["message"] for line in rest["lines"]] == ["line 7"]
    tail = api(user).get(url, {"tail": "true", "limit": 2}).json()
    assert [line["number"] for line in tail["lines"]] == [7, 8]


@pytest.mark.django_db(transaction=True)
def test_the_log_downloads_as_text(user, logged_run):
    response = api(user).get(f"/api/v1/operations/{logged_run}/logs.txt")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert "8 lines logged, the oldest 3 not kept" in text
    assert text.strip().splitlines()[-1].endswith("INFO     tests.logcapture: line 8")
    same = api(user).get(f"/api/v1/operations/{logged_run}/logs/", {"format": "txt"})
    assert same.content == response.content


@pytest.mark.django_db(transaction=True)
def test_someone_elses_run_log_is_a_404_and_bad_parameters_a_400(user, other_user, logged_run):
    url = f"/api/v1/operations/{logged_run}/logs/"
    assert api(other_user).get(url).status_code == 404
    assert api(other_user).get(f"/api/v1/operations/{logged_run}/logs.txt").status_code == 404
    assert api(user).get(url, {"after": "x"}).status_code == 400
    assert api(user).get(url, {"level": "LOUD"}).status_code == 400
    assert api(user).get(url, {"limit": 100_000}).status_code == 400


@pytest.mark.django_db(transaction=True)
def test_errors_of_the_text_log_are_json(other_user, logged_run):
    from rest_framework.test import APIClient

    url = f"/api/v1/operations/{logged_run}/logs.txt"
    for response, status in [(api(other_user).get(url), 404), (APIClient().get(url), 403)]:
        assert response.status_code == status
        assert response["Content-Type"] == "application/json"
        assert set(response.json()) == {"detail"}, response.content


# --- live over the WebSocket ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("in_memory_layer", "fast_progress")
async def test_live_lines_reach_the_runs_page_and_never_the_dashboard(user):
    run = await asyncio.to_thread(ProgressTracker.create, "live logs", user=user)
    page, _ = await open_socket(f"/ws/progress/{run.id}/", user)
    dashboard, _ = await open_socket("/ws/progress/", user)

    def pipeline():
        with track_operation("live logs", operation_id=run.id):
            log.warning("seen live")

    await asyncio.to_thread(pipeline)
    seen = await receive_until(page, lambda m: m["type"] == "log")
    assert [line["message"] for line in seen[-1]["lines"]] == ["seen live"]
    assert seen[-1]["id"] == run.id
    on_dashboard = await receive_until(dashboard, lambda m: m["type"] == "task_completed")
    assert "log" not in {m["type"] for m in on_dashboard}
    await page.disconnect()
    await dashboard.disconnect()


@pytest.mark.django_db(transaction=True)
def test_deleting_a_run_deletes_its_lines(fast_progress, published):
    from progress.models import OperationProgress

    with track_operation("pruned") as tracker:
        log.info("gone with the run")
    _, per_model = OperationProgress.objects.filter(pk=tracker.id).delete()
    assert per_model == {"progress.OperationProgress": 1, "progress.OperationLogLine": 1}


# --- levels: the root logger at WARNING, the host's output unchanged ------------------


@pytest.fixture
def host_logging(monkeypatch, settings):
    """Python's defaults: root at WARNING with one handler printing to a buffer; the host
    opted in to capture below its levels (the Logger methods are restored afterwards)."""
    import io

    settings.PROGRESS = {"LOG_CAPTURE_BELOW_HOST_LEVELS": True}
    monkeypatch.setattr(logging.Logger, "isEnabledFor", logging.Logger.isEnabledFor)
    monkeypatch.setattr(logging.Logger, "callHandlers", logging.Logger.callHandlers)
    logcapture.install()

    buffer = io.StringIO()
    printer = logging.StreamHandler(buffer)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [logcapture._handler, printer])
    monkeypatch.setattr(root, "level", logging.WARNING)
    logging.Logger.manager._clear_cache()
    yield buffer
    logging.Logger.manager._clear_cache()


def unleveled(name):
    logger = logging.getLogger(name)
    logger.setLevel(logging.NOTSET)
    return logger


def test_info_from_a_logger_without_a_level_is_captured_while_root_is_at_warning(host_logging):
    quiet = unleveled("tests.unleveled")
    sink = run_log()
    quiet.info("outside")
    with capturing(sink):
        quiet.info("inside %s", "the block")
        quiet.debug("too low for LOG_LEVEL")
        quiet.warning("careful")
    assert messages(sink) == ["inside the block", "careful"]
    # The host's handler printed only what it printed before: the warning.
    assert host_logging.getvalue().splitlines() == ["careful"]


def test_a_handler_on_a_parent_logger_still_gets_only_what_its_levels_let_through(host_logging):
    import io

    parent = unleveled("tests.parent")
    seen = io.StringIO()
    handler = logging.StreamHandler(seen)
    parent.addHandler(handler)
    try:
        with capturing(sink := run_log()):
            unleveled("tests.parent.child").info("child info")
        assert messages(sink) == ["child info"]
        assert seen.getvalue() == ""
        assert host_logging.getvalue() == ""
    finally:
        parent.removeHandler(handler)


def test_a_level_the_host_set_on_a_logger_is_kept_in_runs(host_logging, monkeypatch):
    noisy = logging.getLogger("tests.noisy")
    monkeypatch.setattr(noisy, "level", logging.ERROR)
    sink = run_log()
    with capturing(sink):
        noisy.info("chatter")
        noisy.warning("still chatter")
        noisy.error("broken")
    assert messages(sink) == ["broken"]


def test_log_level_is_honoured_below_and_above_info(host_logging):
    quiet = unleveled("tests.unleveled")
    debug_sink = run_log(level=logging.DEBUG)
    with capturing(debug_sink):
        quiet.debug("detail")
    warning_sink = run_log(level=logging.WARNING)
    with capturing(warning_sink):
        quiet.info("chatter")
    assert messages(debug_sink) == ["detail"]
    assert messages(warning_sink) == []
    assert host_logging.getvalue() == ""


def test_logging_disable_and_non_propagating_loggers_are_not_captured(host_logging, monkeypatch):
    alone = unleveled("tests.alone")
    monkeypatch.setattr(alone, "propagate", False)
    sink = run_log()
    with capturing(sink):
        alone.info("kept to itself")
        logging.disable(logging.INFO)
        try:
            unleveled("tests.unleveled").info("disabled")
        finally:
            logging.disable(logging.NOTSET)
    assert messages(sink) == []


@pytest.mark.django_db(transaction=True)
def test_a_tracked_run_stores_info_from_a_default_configured_logger(
    host_logging, fast_progress, published
):
    with track_operation("defaults") as tracker:
        unleveled("tests.defaults").info("batch 1 imported")
    assert stored(tracker.id) == [(1, logging.INFO, "batch 1 imported")]
    assert host_logging.getvalue() == ""


@pytest.mark.service
def test_without_the_hosts_opt_in_logging_is_not_patched_and_levels_rule():
    """In a fresh process, as a host that did not opt in: Logger is untouched, and a run
    gets what its loggers let through (INFO from a logger at INFO, not from one at WARNING)."""
    import subprocess
    import sys

    code = """
import logging, django
django.setup()
from progress.runtime import logcapture
logcapture.install()
assert logging.Logger.isEnabledFor is logcapture._host_is_enabled_for, "patched"
sink = logcapture.RunLog(1, level=logging.INFO, limit=10)
logging.getLogger().setLevel(logging.WARNING)
logging.getLogger("shown").setLevel(logging.INFO)
with logcapture.capturing(sink):
    logging.getLogger("dropped.by.host").info("not captured")
    logging.getLogger("shown").info("captured")
print([line.message for line in sink.take()])
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "['captured']"
