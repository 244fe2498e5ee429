"""Run states to this process's sockets: each group joined once, the newest state per run,
sent in flushes with one frame per socket.

Why (bench/, figure O): with every socket a member of its group, each state woke every
socket's consumer task (its queue, dispatch and frame), so at 1,000 sockets the process
spent more on waking consumers than on frames. Here a group that sockets of this process
listen to is joined once (GroupFeed): watched, with progress.layers, which hands each
message over as it is read from Redis; or joined by one channel of the process, with other
layers. A state is kept once per group, the newest per run, and a flush sends each socket
of the group one frame holding the states it does not hold yet. That frame is encoded once
and shared by every socket that needed all of it.

Why no queue between Redis and the feed: each hop from one task to another waits for the
event loop's next turn, and under load one turn holds a whole flush or the server's writes
to every socket. With a feed task between them, states reached the feed 112-117 ms (p50)
after Redis had them (figure O, 1,000 sockets); watched, 81 ms. Most of the rest was
daphne's per-frame write registration, which shortened every turn once removed
(progress.daphne_tuning).

- A final state is never dropped: only a newer state of the same run replaces a state, and
  a run's final is its newest.
- A socket receives nothing before its snapshot (Subscription.start()); states that arrive
  meanwhile are held for it, newest per run, and filtered by the snapshot's seqs.
- A socket whose previous frame is still being sent (a server with flow control) keeps its
  states, newest per run, for the flush after the send ends.
- Flushes are paced by their cost: after a flush that took d seconds the next waits d, at
  most SOCKET_FLUSH_INTERVAL. With few sockets a state goes out at once; with many, the
  states that arrive during the pause go out together, and flushing takes at most about
  half of the loop, leaving the rest for reading Redis, handshakes and requests.
- Log lines are not states: they reach a run's page on its own channel (see consumers).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from time import monotonic
from typing import Any, Protocol

from progress import conf, protocol
from progress.publish.outage import Outage

logger = logging.getLogger(__name__)

# A group's membership is renewed this often: the in-memory and Redis core layers forget a
# member after their group_expiry (a day by default), while a feed may live for weeks.
GROUP_REJOIN_SECONDS = 3600.0
# Seconds to wait after a failed receive (the layer's server is down) before the next one.
RECEIVE_RETRY_SECONDS = 1.0
# A feed remembers the states it took in for SNAPSHOT_SHARE_SECONDS plus this: a shared
# snapshot is caught up from them (GroupFeed.recent), and the margin covers a slow load.
RECENT_MARGIN_SECONDS = 1.0


class Listener(Protocol):
    """What a subscription needs of a socket's consumer."""

    sent: dict[int, int]  # run id -> the newest seq the client holds
    channel_name: str
    seed_protocol: bool  # one frame per state, as the proposal's protocol has it
    view_shown: bool  # in many feeds (one per shown run): a flush sends it one frame for all

    async def send(self, text_data: str | None = None) -> None: ...


class Subscription:
    """One socket's place in a group feed; paused until start(), closed by close()."""

    def __init__(self, feed: GroupFeed, listener: Listener) -> None:
        self.feed = feed
        self.listener = listener
        self.started = False
        self.sending: asyncio.Task[None] | None = None
        # States not yet sent to this socket (paused or busy): the newest per run.
        self.held: dict[int, dict[str, Any]] = {}

    def catch_up(self, since: float) -> bool:
        """For a snapshot loaded from `since` (time.monotonic()) on: hold the states the feed
        remembers (the send filters out what the snapshot already holds). False if the feed
        no longer remembers back that far: the snapshot must be loaded again.

        All of them, not only those since `since`: counters are broadcast before they are
        written, so a state taken in just before the load may be newer than its row.
        """
        if self.feed.covered_from > since:
            return False
        self.hold([message for _received, message in self.feed.recent.values()])
        return True

    def start(self) -> None:
        """The snapshot is sent: from now on the socket gets states (held ones first)."""
        self.started = True
        if self.held:
            self.feed.fanout.mark(self.feed)

    def close(self) -> None:
        """Leave the feed (the socket closed); idempotent."""
        self.feed.remove(self)

    @property
    def ready(self) -> bool:
        return self.started and self.sending is None

    def hold(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            held = self.held.get(event["id"])
            if protocol.is_newer(event, held):
                self.held[event["id"]] = event

    def unsent(self, events: list[dict[str, Any]]) -> tuple[list[str], bool]:
        """The frames' texts the client lacks (recorded as sent), and whether that is all
        of events (so the shared encoding fits)."""
        if self.held:
            self.hold(events)
            events, self.held = list(self.held.values()), {}
            whole = False
        else:
            whole = True
        sent = self.listener.sent
        texts = []
        for event in events:
            if event["seq"] > sent.get(event["id"], -1):
                sent[event["id"]] = event["seq"]
                texts.append(event["text"])
            else:
                whole = False
        return texts, whole

    def push(self, frames: list[str], together: list[Subscription] | None = None) -> None:
        """Send frames; runs synchronously to the end when the server's send does not wait.
        together: every subscription whose states the frames hold (all busy until sent)."""
        task = asyncio.Task(self._send(frames), loop=self.feed.fanout.loop, eager_start=True)
        if not task.done():
            for subscription in together or [self]:
                subscription.sending = task
                task.add_done_callback(subscription._sent)

    async def _send(self, frames: list[str]) -> None:
        try:
            for frame in frames:
                await self.listener.send(text_data=frame)
        except Exception:  # the socket is closing: its consumer leaves the feed
            logger.debug("Could not send run states to %s", self.listener.channel_name)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self.sending = None
        if self.held:
            self.feed.fanout.mark(self.feed)


class GroupFeed:
    """One group's sockets in this process and the states that arrived since the flush."""

    def __init__(self, fanout: Fanout, group: str) -> None:
        self.fanout = fanout
        self.group = group
        self.subscribers: dict[Subscription, None] = {}  # an ordered set
        self.pending: dict[int, dict[str, Any]] = {}
        # The newest state per run taken in during the last `window` seconds, oldest first,
        # with when it arrived: what a socket given a shared snapshot has not seen.
        self.recent: OrderedDict[int, tuple[float, dict[str, Any]]] = OrderedDict()
        self.window = conf.get("SNAPSHOT_SHARE_SECONDS") + RECENT_MARGIN_SECONDS
        # Every state taken in since this time.monotonic() is in recent (set once joined).
        self.covered_from = float("inf")
        self.channel = ""
        self.joined: asyncio.Future[None] = fanout.loop.create_future()
        self._task: asyncio.Task[None] | None = None
        self._rejoin: asyncio.TimerHandle | None = None

    async def join(self) -> None:
        """Watch the group (progress.layers), or join it with a channel of this process."""
        layer = self.fanout.layer
        try:
            if self.watching:
                await layer.watch_group(self.group, self.offer)
            else:
                # The default prefix: channels-redis' core layer receives every channel of
                # a process through one Redis key per prefix, so another prefix would wait
                # behind the consumers' receives (and its messages be dropped when full).
                self.channel = await layer.new_channel()
                await layer.group_add(self.group, self.channel)
        except BaseException as exc:
            self.joined.set_exception(exc)
            self.fanout.feeds.pop(self.group, None)
            raise
        if not self.watching:
            self._task = self.fanout.loop.create_task(self._receive())
            self._rejoin = self.fanout.loop.call_later(GROUP_REJOIN_SECONDS, self._renew)
        self.covered_from = monotonic()
        self.joined.set_result(None)

    @property
    def watching(self) -> bool:
        """True with a layer that calls back as messages arrive: no queue, no task hop."""
        return hasattr(self.fanout.layer, "watch_group")

    def offer(self, message: dict[str, Any]) -> None:
        """A message from the group: keep a run's state if it is the newest seen."""
        if message.get("type") != protocol.LAYER_EVENT:
            logger.debug("Feed %s ignored a %r message", self.group, message.get("type"))
            return
        run_id = message["id"]
        known = self.recent.get(run_id)
        held = self.pending.get(run_id) or (known[1] if known is not None else None)
        if protocol.is_newer(message, held):
            if not protocol.fits_in_frame(message["text"]):
                logger.error(
                    "Run %s: dropped a %s-byte frame, over MAX_FRAME_BYTES; encode frames "
                    "with progress.protocol.encode_event, which bounds them.",
                    run_id,
                    len(message["text"]),
                )
                return
            self.pending[run_id] = message
            self._remember(run_id, message)
            self.fanout.mark(self)

    def _remember(self, run_id: int, message: dict[str, Any]) -> None:
        """Keep the state in recent, and forget what arrived more than `window` ago."""
        now = monotonic()
        recent = self.recent
        recent[run_id] = (now, message)
        recent.move_to_end(run_id)
        cutoff = now - self.window
        while next(iter(recent.values()))[0] < cutoff:  # ends at the state just kept
            recent.popitem(last=False)
            self.covered_from = max(self.covered_from, cutoff)

    def flush(self, gathered: dict[Listener, list[tuple[Subscription, list[str]]]]) -> None:
        """Send every ready socket its unsent states; busy or paused ones hold them. A
        socket in several feeds (a shown view) has its texts gathered, to get one frame."""
        events = list(self.pending.values())
        self.pending.clear()
        shared: list[str] | None = None
        for subscription in list(self.subscribers):
            if not subscription.ready:
                subscription.hold(events)
                continue
            texts, whole = subscription.unsent(events)
            if not texts:
                continue
            if subscription.listener.view_shown:
                gathered.setdefault(subscription.listener, []).append((subscription, texts))
                continue  # sent with its other feeds' states, after every feed has flushed
            if subscription.listener.seed_protocol:
                frames = [protocol.seed_frame(text) for text in texts]
            elif whole:
                frames = shared if shared is not None else (shared := batch_frames(texts))
            else:
                frames = batch_frames(texts)
            subscription.push(frames)

    def remove(self, subscription: Subscription) -> None:
        self.subscribers.pop(subscription, None)
        if not self.subscribers and self.fanout.feeds.get(self.group) is self:
            self.fanout.feeds.pop(self.group)
            self.fanout.loop.create_task(self._leave())

    async def _leave(self) -> None:
        if self._rejoin is not None:
            self._rejoin.cancel()
        try:
            await self.joined
        except Exception:
            return
        if self._task is not None:
            self._task.cancel()
        try:
            if self.watching:
                await self.fanout.layer.unwatch_group(self.group, self.offer)
            else:
                await self.fanout.layer.group_discard(self.group, self.channel)
        except Exception:  # the layer's server is down; its membership expires on its own
            logger.warning("Could not leave group %s", self.group, exc_info=True)

    async def _receive(self) -> None:
        layer = self.fanout.layer
        outage = Outage(
            logger,
            down=f"Run states for {self.group} cannot be received (%s: %s); retrying. Pages "
            "catch up by resync when the channel layer is back.",
            recovered=f"Run states for {self.group} are received again.",
        )
        while True:
            try:
                message = await layer.receive(self.channel)
            except Exception as exc:
                outage.failed(exc)
                await asyncio.sleep(RECEIVE_RETRY_SECONDS)
                continue
            outage.succeeded()
            self.offer(message)

    def _renew(self) -> None:
        self.fanout.loop.create_task(self._add_again())
        self._rejoin = self.fanout.loop.call_later(GROUP_REJOIN_SECONDS, self._renew)

    async def _add_again(self) -> None:
        try:
            await self.fanout.layer.group_add(self.group, self.channel)
        except Exception:
            logger.warning("Could not renew group %s", self.group, exc_info=True)


class Fanout:
    """This process's feeds on one channel layer, in one event loop, and their flushes."""

    def __init__(self, layer: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.layer = layer
        self.loop = loop
        self.feeds: dict[str, GroupFeed] = {}
        self.flushes = 0
        self.pause = 0.0  # seconds the next flush waits after the last one ended
        self._dirty: dict[GroupFeed, None] = {}
        self._flush_at: asyncio.TimerHandle | asyncio.Handle | None = None
        self._next_flush_at = float("-inf")

    async def subscribe(self, group: str, listener: Listener) -> Subscription:
        """A paused place in group's feed, joining the group first if this process has not."""
        feed = self.feeds.get(group)
        if feed is None:
            feed = self.feeds[group] = GroupFeed(self, group)
            await feed.join()
        else:
            await asyncio.shield(feed.joined)
        subscription = Subscription(feed, listener)
        feed.subscribers[subscription] = None
        return subscription

    def mark(self, feed: GroupFeed) -> None:
        """feed has states to send: flush now, or when the pause after the last flush ends."""
        self._dirty[feed] = None
        if self._flush_at is not None:
            return
        wait = self._next_flush_at - self.loop.time()
        if wait > 0:
            self._flush_at = self.loop.call_later(wait, self.flush)
        else:
            self._flush_at = self.loop.call_soon(self.flush)

    def flush(self) -> None:
        """Flush every feed with states to send, then pause as long as that took (at most
        SOCKET_FLUSH_INTERVAL): flushing takes at most about half of a busy loop, and a
        cheap flush (few sockets) holds the next state back for no time at all."""
        self._flush_at = None
        started = self.loop.time()
        self.flushes += 1
        dirty, self._dirty = self._dirty, {}
        gathered: dict[Listener, list[tuple[Subscription, list[str]]]] = {}
        for feed in dirty:
            try:
                feed.flush(gathered)
            except Exception:
                logger.exception("Could not flush run states of %s", feed.group)
        # A shown view's runs each have their own feed: one frame for all of them per flush,
        # as an all-runs socket gets (the cost per frame is the send, not its size).
        for parts in gathered.values():
            texts = [text for _subscription, part in parts for text in part]
            subscriptions = [subscription for subscription, _part in parts]
            subscriptions[0].push(batch_frames(texts), together=subscriptions)
        ended = self.loop.time()
        self.pause = min(ended - started, conf.get("SOCKET_FLUSH_INTERVAL"))
        self._next_flush_at = ended + self.pause


# One Fanout per (event loop, layer): tests run many loops and layers in one process.
_fanouts: dict[tuple[asyncio.AbstractEventLoop, Any], Fanout] = {}


def fanout_for(layer: Any) -> Fanout:
    """The running loop's Fanout on layer."""
    loop = asyncio.get_running_loop()
    fanout = _fanouts.get((loop, layer))
    if fanout is None:
        for key in [key for key in _fanouts if key[0].is_closed()]:
            del _fanouts[key]
        fanout = _fanouts[(loop, layer)] = Fanout(layer, loop)
    return fanout


def batch_frames(texts: list[str]) -> list[str]:
    """One event frame as it is; several as batch frames of at most MAX_FRAME_BYTES."""
    if len(texts) <= 1:
        return texts
    frames: list[list[str]] = []
    chunk: list[str] = []
    size = len(protocol.BATCH_PREFIX) + 2
    for text in texts:
        if chunk and size + len(text) + 1 > protocol.MAX_FRAME_BYTES:
            frames.append(chunk)
            chunk, size = [], len(protocol.BATCH_PREFIX) + 2
        chunk.append(text)
        size += len(text) + 1
    frames.append(chunk)
    return [protocol.BATCH_PREFIX + ",".join(c) + "]}" if len(c) > 1 else c[0] for c in frames]
