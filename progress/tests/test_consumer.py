"""The WebSocket consumer through the real ASGI stack, with the in-memory layer."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async

from progress import protocol
from progress.models import Status
from progress.tests.factories import OperationProgressFactory
from progress.tests.wsutil import open_socket, receive, receive_until
from progress.tracker import track_operation

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("in_memory_layer")]


def run_tracked(name, items, user=None, *, cancel_check=False):
    with track_operation(name, total_items=items, user=user) as tracker:
        for i in range(1, items + 1):
            tracker.update(current_item=i, items_added=i)
    return tracker.id


async def closed_with(communicator) -> int:
    output = await communicator.receive_output(5)
    assert output["type"] == "websocket.close"
    return output["code"]


async def test_anonymous_user_is_refused_with_4001():
    communicator, accepted = await open_socket("/ws/progress/")
    assert accepted
    assert await closed_with(communicator) == protocol.CLOSE_UNAUTHENTICATED


async def test_cross_origin_socket_is_refused(user):
    _communicator, accepted = await open_socket("/ws/progress/", user, origin="http://evil.example")
    assert not accepted


async def test_snapshot_holds_only_the_users_own_runs(user, other_user):
    mine = await sync_to_async(OperationProgressFactory)(created_by=user)
    await sync_to_async(OperationProgressFactory)(created_by=other_user)
    communicator, _ = await open_socket("/ws/progress/", user)
    snapshot = await receive(communicator)
    assert snapshot["type"] == "snapshot"
    assert [op["id"] for op in snapshot["operations"]] == [mine.pk]
    assert snapshot["operations"][0]["seq"] == mine.seq
    await communicator.disconnect()


async def test_staff_snapshot_holds_everyones_runs(staff, user, other_user):
    a = await sync_to_async(OperationProgressFactory)(created_by=user)
    b = await sync_to_async(OperationProgressFactory)(created_by=other_user)
    communicator, _ = await open_socket("/ws/progress/", staff)
    snapshot = await receive(communicator)
    assert {op["id"] for op in snapshot["operations"]} == {a.pk, b.pk}
    await communicator.disconnect()


async def test_snapshot_includes_recent_finished_runs_up_to_the_setting(user, settings):
    settings.PROGRESS = {"SNAPSHOT_RECENT": 2}
    finished = [
        await sync_to_async(OperationProgressFactory)(created_by=user, status=Status.COMPLETED)
        for _ in range(4)
    ]
    active = await sync_to_async(OperationProgressFactory)(created_by=user)
    communicator, _ = await open_socket("/ws/progress/", user)
    ids = {op["id"] for op in (await receive(communicator))["operations"]}
    assert ids == {active.pk, finished[-1].pk, finished[-2].pk}
    await communicator.disconnect()


@pytest.mark.parametrize("whose", ["other user's", "missing"])
async def test_single_run_socket_refuses_runs_the_user_may_not_see(user, other_user, whose):
    theirs = await sync_to_async(OperationProgressFactory)(created_by=other_user)
    run_id = theirs.pk if whose == "other user's" else theirs.pk + 1000
    communicator, _ = await open_socket(f"/ws/progress/{run_id}/", user)
    assert await closed_with(communicator) == protocol.CLOSE_FORBIDDEN


async def test_live_updates_reach_the_owner_from_a_thread(user, fast_progress):
    communicator, _ = await open_socket("/ws/progress/", user)
    assert (await receive(communicator))["operations"] == []
    run_id = await asyncio.to_thread(run_tracked, "live", 20, user)
    messages = await receive_until(communicator, lambda m: m["type"] == "task_completed")
    final = messages[-1]["data"]
    assert final["id"] == run_id
    assert (final["status"], final["current_item"], final["items_added"]) == ("completed", 20, 20)
    seqs = [m["data"]["seq"] for m in messages]
    assert seqs == sorted(seqs)
    await communicator.disconnect()


async def test_other_users_do_not_receive_the_run(user, other_user, fast_progress):
    theirs, _ = await open_socket("/ws/progress/", other_user)
    await receive(theirs)
    await asyncio.to_thread(run_tracked, "private", 3, user)
    assert await theirs.receive_nothing(timeout=0.5)
    await theirs.disconnect()


async def test_single_run_socket_follows_that_run(user, fast_progress):
    queued = await sync_to_async(OperationProgressFactory)(
        created_by=user, status=Status.QUEUED, seq=0, current_item=0
    )
    communicator, _ = await open_socket(f"/ws/progress/{queued.pk}/", user)
    assert (await receive(communicator))["operations"][0]["status"] == "queued"

    def run_queued():
        with track_operation("x", operation_id=queued.pk, total_items=2) as tracker:
            tracker.update(current_item=2)

    await asyncio.to_thread(run_queued)
    messages = await receive_until(communicator, lambda m: m["type"] == "task_completed")
    assert {m["data"]["id"] for m in messages} == {queued.pk}
    await communicator.disconnect()


async def test_resync_returns_what_changed_while_disconnected(user, fast_progress):
    first, _ = await open_socket("/ws/progress/", user)
    await receive(first)
    started = await asyncio.to_thread(run_tracked, "earlier", 2, user)
    held = (await receive_until(first, lambda m: m["type"] == "task_completed"))[-1]["data"]
    await first.disconnect()
    missed = await asyncio.to_thread(run_tracked, "while away", 5, user)

    second, _ = await open_socket("/ws/progress/", user)
    await receive(second)  # the snapshot
    await second.send_json_to({"type": "resync", "since": {str(started): held["seq"]}})
    reply = await receive(second)
    assert reply["type"] == "resync"
    assert [op["id"] for op in reply["operations"]] == [missed]  # the held one is not resent
    assert reply["operations"][0]["status"] == "completed"
    await second.disconnect()


async def test_final_state_survives_dropped_group_messages(user, settings, fast_progress):
    """A full channel drops group messages silently; resync still yields the final state."""
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1}}
    }
    communicator, _ = await open_socket("/ws/progress/", user)
    await receive(communicator)

    def many_updates():
        with track_operation("burst", total_items=200, user=user) as tracker:
            for i in range(1, 201):
                tracker.update(current_item=i, force=True)
        return tracker.id

    run_id = await asyncio.to_thread(many_updates)
    received = []
    while not await communicator.receive_nothing(timeout=0.2):
        received.append(json.loads(await communicator.receive_from()))
    last_seq = max((m["data"]["seq"] for m in received), default=0)
    await communicator.send_json_to({"type": "resync", "since": {str(run_id): last_seq}})
    reply = await receive_until(communicator, lambda m: m["type"] == "resync")
    final = [*received, *[{"data": op} for op in reply[-1]["operations"]]][-1]["data"]
    assert final["status"] == "completed" and final["current_item"] == 200
    await communicator.disconnect()


async def test_a_broadcast_is_encoded_once_for_all_clients(staff, user, fast_progress, monkeypatch):
    encoded = []
    original = protocol.encode_event
    monkeypatch.setattr(
        "progress.protocol.encode_event", lambda data: encoded.append(1) or original(data)
    )
    clients = [(await open_socket("/ws/progress/", who))[0] for who in (staff, staff, user)]
    for client in clients:
        await receive(client)
    await asyncio.to_thread(run_tracked, "fanout", 1, user)
    finals = [
        (await receive_until(c, lambda m: m["type"] == "task_completed"))[-1] for c in clients
    ]
    assert all(f == finals[0] for f in finals)
    events = len({f["data"]["seq"] for f in finals})
    assert len(encoded) <= 3 * events + 3  # once per broadcast (start, update, end), not per client
    for client in clients:
        await client.disconnect()


async def test_ping_gets_pong(user):
    communicator, _ = await open_socket("/ws/progress/", user)
    await receive(communicator)
    await communicator.send_json_to({"type": "ping"})
    assert await receive(communicator) == {"type": "pong"}
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"type": "subscribe"}', "Unknown message type 'subscribe'"),
        ('{"type": "resync", "since": [1]}', 'resync needs "since"'),
        ('{"type": "resync", "since": {"abc": 1}}', "must be a run id and an integer seq"),
        ('{"type": "resync", "since": {"1": "x"}}', "must be a run id and an integer seq"),
        # Each of these closed the socket with 1011 (issue 11).
        ('{"type": "resync", "since": {"²": 1}}', "must be a run id and an integer seq"),
        ('{"type": "resync", "since": {"٣": 1}}', "must be a run id and an integer seq"),
        ('{"type": "resync", "since": {"%s": 1}}' % ("9" * 5000), "ASCII digits up to"),
        ('{"type": "resync", "since": {"%s": 1}}' % ("9" * 20), "must be a run id"),
        ('{"type": "resync", "since": {"9223372036854775808": 1}}', "must be a run id"),
        ('{"type": "resync", "since": {"1": %s}}' % (2**63), "an integer seq"),
        ('{"type": "%s"}' % ("t" * 60_000), "Unknown message type"),
    ],
)
async def test_malformed_messages_get_an_error_and_the_socket_stays_open(user, frame, says):
    communicator, _ = await open_socket("/ws/progress/", user)
    await receive(communicator)
    await communicator.send_to(text_data=frame)
    reply = await receive(communicator)
    assert reply["type"] == "error" and says in reply["message"]
    assert len(reply["message"]) < 300  # a hostile key is not echoed whole
    await communicator.send_json_to({"type": "ping"})
    assert await receive(communicator) == {"type": "pong"}
    await communicator.disconnect()


async def test_resync_naming_too_many_runs_is_refused(user, settings):
    settings.PROGRESS = {"MAX_RESYNC_IDS": 100}
    communicator, _ = await open_socket("/ws/progress/", user)
    await receive(communicator)
    await communicator.send_json_to({"type": "resync", "since": {str(i): 1 for i in range(500)}})
    reply = await receive(communicator)
    assert reply == {"type": "error", "message": "resync names 500 runs; at most 100 are allowed."}
    await communicator.disconnect()


async def test_resync_with_ten_thousand_ids_is_closed_as_too_big(user):
    communicator, _ = await open_socket("/ws/progress/", user)
    await receive(communicator)
    await communicator.send_json_to({"type": "resync", "since": {str(i): 1 for i in range(10_000)}})
    assert await closed_with(communicator) == protocol.CLOSE_MESSAGE_TOO_BIG


async def test_oversized_frame_closes_with_4009(user, settings):
    settings.PROGRESS = {"MAX_MESSAGE_BYTES": 1024}
    communicator, _ = await open_socket("/ws/progress/", user)
    await receive(communicator)
    await communicator.send_to(text_data=json.dumps({"type": "ping", "pad": "x" * 2000}))
    assert await closed_with(communicator) == protocol.CLOSE_MESSAGE_TOO_BIG


async def test_a_frame_is_measured_in_utf8_bytes_not_characters(user):
    communicator, _ = await open_socket("/ws/progress/", user)
    await receive(communicator)
    # 65,000 four-byte characters: under 64 Ki characters, about 260 KB on the wire.
    await communicator.send_to(
        text_data=json.dumps({"type": "ping", "pad": "\U0001f600" * 65_000}, ensure_ascii=False)
    )
    assert await closed_with(communicator) == protocol.CLOSE_MESSAGE_TOO_BIG


async def test_a_frame_of_multibyte_characters_under_the_limit_is_answered(user):
    communicator, _ = await open_socket("/ws/progress/", user)
    await receive(communicator)
    await communicator.send_to(
        text_data=json.dumps({"type": "ping", "pad": "é" * 30_000}, ensure_ascii=False)
    )
    assert await receive(communicator) == {"type": "pong"}
    await communicator.disconnect()


async def test_flooding_client_is_closed_and_others_are_unaffected(user, other_user, settings):
    settings.PROGRESS = {"CLIENT_RATE": 5.0, "CLIENT_BURST": 10}
    flooder, _ = await open_socket("/ws/progress/", user)
    calm, _ = await open_socket("/ws/progress/", other_user)
    await receive(flooder)
    await receive(calm)
    for _ in range(50):
        await flooder.send_json_to({"type": "ping"})
    outputs = []
    while True:
        output = await flooder.receive_output(5)
        outputs.append(output)
        if output["type"] == "websocket.close":
            break
    assert outputs[-1]["code"] == protocol.CLOSE_RATE_LIMITED
    assert len(outputs) - 1 <= 11  # at most the burst was answered
    await calm.send_json_to({"type": "ping"})
    assert await receive(calm) == {"type": "pong"}
    await calm.disconnect()


async def test_the_largest_run_id_and_seq_are_accepted_in_a_resync(user):
    communicator, _ = await open_socket("/ws/progress/", user)
    await receive(communicator)
    since = {str(2**63 - 1): 2**63 - 1, "1": -(2**63)}
    await communicator.send_json_to({"type": "resync", "since": since})
    assert (await receive(communicator))["type"] == "resync"
    await communicator.disconnect()


async def test_sockets_past_the_per_user_cap_are_closed_with_4029(user, other_user, settings):
    settings.PROGRESS = {"MAX_SOCKETS_PER_USER": 2}
    first, _ = await open_socket("/ws/progress/", user)
    second, _ = await open_socket("/ws/progress/", user)
    for communicator in (first, second):
        await receive(communicator)
    third, accepted = await open_socket("/ws/progress/", user)
    assert accepted and await closed_with(third) == protocol.CLOSE_TOO_MANY_SOCKETS
    others, _ = await open_socket("/ws/progress/", other_user)
    assert (await receive(others))["type"] == "snapshot"  # the cap is per user
    await first.disconnect()
    again, _ = await open_socket("/ws/progress/", user)
    assert (await receive(again))["type"] == "snapshot"  # a closed socket frees its place
    for communicator in (second, others, again):
        await communicator.disconnect()


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://localhost:3000", "localhost:8000"),  # another port on the same host
        ("http://localhost:3000", "localhost"),
        ("https://localhost", "localhost"),  # another scheme
        ("http://127.0.0.1:8000", "localhost:8000"),  # another host, both allowed
        ("null", "localhost"),
    ],
)
async def test_a_socket_from_another_origin_is_refused(user, origin, host):
    _communicator, accepted = await open_socket("/ws/progress/", user, origin=origin, host=host)
    assert not accepted


async def test_a_same_origin_socket_on_a_port_is_accepted(user):
    communicator, accepted = await open_socket(
        "/ws/progress/", user, origin="http://localhost:8000", host="localhost:8000"
    )
    assert accepted
    await communicator.disconnect()


async def test_a_trusted_origin_is_accepted_from_another_host(user, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.org", "https://*.example.net"]
    for origin in ("https://app.example.org", "https://live.example.net"):
        communicator, accepted = await open_socket(
            "/ws/progress/", user, origin=origin, host="localhost:8000"
        )
        assert accepted, origin
        await communicator.disconnect()
    _, accepted = await open_socket(
        "/ws/progress/", user, origin="https://app.example.org:8443", host="localhost:8000"
    )
    assert not accepted


async def test_a_quiet_socket_gets_heartbeat_frames(user, settings):
    settings.PROGRESS = {"SOCKET_HEARTBEAT_INTERVAL": 0.05}
    communicator, _ = await open_socket("/ws/progress/", user)
    assert (await receive(communicator))["type"] == "snapshot"
    beats = [json.loads(await communicator.receive_from(5)) for _ in range(3)]
    assert beats == [{"type": "heartbeat"}] * 3
    await communicator.disconnect()


async def test_no_heartbeat_before_the_interval_has_passed(user, settings):
    settings.PROGRESS = {"SOCKET_HEARTBEAT_INTERVAL": 60.0}
    communicator, _ = await open_socket("/ws/progress/", user)
    assert (await receive(communicator))["type"] == "snapshot"
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_sockets_listen_on_the_configured_layer_alias(user, settings, fast_progress):
    from progress.tests.conftest import IN_MEMORY_LAYERS

    # No "default" layer at all: a consumer on the default alias could not join its groups.
    settings.CHANNEL_LAYERS = {"progress": IN_MEMORY_LAYERS["default"]}
    settings.PROGRESS = {**fast_progress, "CHANNEL_LAYER": "progress"}
    communicator, _ = await open_socket("/ws/progress/", user)
    assert (await receive(communicator))["operations"] == []
    run_id = await asyncio.to_thread(run_tracked, "aliased", 3, user)
    messages = await receive_until(communicator, lambda m: m["type"] == "task_completed")
    assert messages[-1]["data"]["id"] == run_id
    await communicator.disconnect()


# --- the proposal's protocol: ws/progress, no slash ---------------------------------------


async def test_the_proposals_path_authenticates_like_the_products():
    communicator, accepted = await open_socket("/ws/progress")
    assert accepted
    assert await closed_with(communicator) == protocol.CLOSE_UNAUTHENTICATED


async def test_the_proposals_path_sends_one_event_frame_per_run_and_never_a_batch(user):
    cancelled = await sync_to_async(OperationProgressFactory)(
        created_by=user, status=Status.CANCELLED
    )
    communicator, _ = await open_socket("/ws/progress", user)
    first = await receive(communicator)
    # The snapshot is the run's event; a cancelled run ends as task_failed, its status exact.
    assert first["type"] == "task_failed"
    assert (first["data"]["id"], first["data"]["status"]) == (cancelled.pk, "cancelled")
    ids = [await sync_to_async(run_tracked)(f"seed_{n}", 30, user) for n in range(4)]
    frames = await receive_until(
        communicator,
        lambda m: m["type"] == "task_completed" and m["data"]["id"] == ids[-1],
    )
    assert {m["type"] for m in frames} <= {"progress_update", "task_completed"}
    assert all("operation_name" in m["data"] for m in frames)
    finals = {m["data"]["id"] for m in frames if m["type"] == "task_completed"}
    assert finals <= set(ids)
    for run_id in ids:  # newest per run: seqs only grow
        seqs = [m["data"]["seq"] for m in frames if m["data"]["id"] == run_id]
        assert seqs == sorted(set(seqs))
    await communicator.disconnect()
