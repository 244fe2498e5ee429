// The client's model of runs and its timing rules, as pure functions.
// No DOM, no WebSocket, no clock: everything the browser or a test needs is passed in,
// which is what lets client.js, the pages and Node's test runner share it.

import { config } from './config.js';

export * from './format.js';

// Statuses and the event types that carry them come from the server (progress.models.Status).
export const ACTIVE_STATUSES = Object.freeze(config.statuses.filter((s) => s.active).map((s) => s.value));
export const FINAL_STATUSES = Object.freeze(config.statuses.filter((s) => !s.active).map((s) => s.value));

// Server -> client message types that carry one run in `data`.
export const EVENT_TYPES = Object.freeze([...new Set(config.statuses.map((s) => s.event))]);
// Every other frame type, by role, from the server (progress.protocol.FRAME_TYPES).
export const FRAME_TYPES = Object.freeze({ ...config.frameTypes });
// Server -> client message types that carry a list of runs in `operations`.
export const LIST_TYPES = Object.freeze([FRAME_TYPES.snapshot, FRAME_TYPES.resync]);
// Server -> client: several runs' event frames in one, sent to a client that lags
// behind: {"type": "batch", "events": [{"type": "progress_update", "data": {...}}, ...]}.
export const BATCH_TYPE = FRAME_TYPES.batch;

// The server refuses a resync naming more runs than this (PROGRESS["MAX_RESYNC_IDS"]).
export const MAX_RESYNC_IDS = config.maxResyncIds;
// A seq lower than any real one: asks the server for a run the client does not hold yet.
export const UNKNOWN_SEQ = -1;

// The server beats a running run's heartbeat this often (PROGRESS["HEARTBEAT_INTERVAL"]).
export const HEARTBEAT_MS = config.heartbeatMs;
// Slack on top of the heartbeat before a silent run counts as stale: network and
// broadcast throttling add delay, and a resync for a healthy run is wasted traffic.
export const STALE_MARGIN_MS = 5_000;

// The server sends an app-level {"type": "heartbeat"} frame on every socket this often,
// so a healthy connection is never quiet for long, even when no run changes.
export const HEARTBEAT_FRAME = FRAME_TYPES.heartbeat;
export const SOCKET_HEARTBEAT_MS = config.socketHeartbeatMs;
// No frame at all for this long (two heartbeats missed, plus slack) and the connection is
// "silent": the server or the network has stalled, so what the page shows may be stale.
export const SILENCE_MS = 2 * SOCKET_HEARTBEAT_MS + 1_000;

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_MAX_MS = 20_000;
// In the first seconds of an outage (a server restart, a deploy) retries stay at most
// BACKOFF_GRACE_MAX_MS apart, so every page is back within about that long of the server;
// only a longer outage backs off further. A refused connection costs a server nothing.
export const BACKOFF_GRACE_MS = 10_000;
export const BACKOFF_GRACE_MAX_MS = 2_000;

/** True for queued and running runs. */
export function isActive(op) {
  return ACTIVE_STATUSES.includes(op?.status);
}

/** The empty store: a frozen object of runs keyed by id (as a string). */
export function emptyStore() {
  return Object.freeze({});
}

/**
 * Apply one server message to the store.
 *
 * Returns {store, changed}: a new store object when anything changed (the old one is
 * never mutated, so subscribers can compare by identity) and the numeric ids that did.
 * A run is replaced only by a strictly greater seq, so duplicates and late arrivals
 * (a broadcast overtaken by a resync answer) are ignored. Snapshots and resync answers
 * merge: runs they do not mention are kept, since a snapshot only lists active and
 * recent runs and a resync only lists what is newer. A batch applies each of its events.
 */
export function applyMessage(store, msg) {
  if (msg == null || typeof msg !== 'object') return { store, changed: [] };
  if (LIST_TYPES.includes(msg.type)) {
    return mergeOperations(store, Array.isArray(msg.operations) ? msg.operations : []);
  }
  if (EVENT_TYPES.includes(msg.type)) return mergeOperations(store, [msg.data]);
  if (msg.type === BATCH_TYPE && Array.isArray(msg.events)) {
    const events = msg.events.filter((e) => EVENT_TYPES.includes(e?.type));
    return mergeOperations(store, events.map((e) => e.data));
  }
  return { store, changed: [] };
}

/**
 * Reassemble a snapshot or resync the server sent in parts.
 *
 * The server keeps every frame under 64 KiB, so a long list arrives as
 * {"type": "snapshot", "part": 1, "parts": 3, "operations": [...]}, then parts 2 and 3,
 * back to back on one socket. `pending` is what this returned last time (null at first
 * and after a reconnect). Returns {pending, message}: `message` is the whole list
 * message once its last part is in (a frame without `parts` is whole already), else
 * null. A part out of order (a lost start) discards the list; the next resync covers it.
 */
export function collectPart(pending, msg) {
  const { part, parts } = msg ?? {};
  if (!Number.isInteger(parts) || parts <= 1) return { pending: null, message: msg };
  if (!Number.isInteger(part) || part < 1 || part > parts) return { pending, message: null };
  const operations = Array.isArray(msg.operations) ? msg.operations : [];
  let held = pending;
  if (part === 1) held = { type: msg.type, parts, next: 1, operations: [] };
  else if (!held || held.type !== msg.type || held.parts !== parts || held.next !== part) {
    return { pending: null, message: null };
  }
  const collected = [...held.operations, ...operations];
  if (part === parts) return { pending: null, message: { type: msg.type, operations: collected } };
  return { pending: { ...held, next: part + 1, operations: collected }, message: null };
}

/** Merge runs into the store by seq; see applyMessage. */
export function mergeOperations(store, operations) {
  let next = null;
  const changed = [];
  for (const op of operations) {
    if (!isOperation(op)) continue;
    const key = String(op.id);
    const held = (next ?? store)[key];
    if (held && held.seq >= op.seq) continue;
    next ??= { ...store };
    next[key] = Object.freeze(keepCancelRequest(held, op));
    if (!changed.includes(op.id)) changed.push(op.id);
  }
  return next ? { store: Object.freeze(next), changed } : { store, changed };
}

/**
 * A cancel request is never withdrawn: a state built before the run's process learned of
 * it must not turn "Cancelling…" back into "Running", nor hide that a run which then
 * completed had been asked to stop ("Finished before your cancel arrived").
 */
function keepCancelRequest(held, op) {
  if (!held?.cancel_requested || op.cancel_requested) return op;
  return { ...op, cancel_requested: true };
}

function isOperation(op) {
  return (
    op != null &&
    typeof op === 'object' &&
    Number.isInteger(op.id) &&
    typeof op.seq === 'number' &&
    Number.isFinite(op.seq)
  );
}

/**
 * The resync request for everything held: {"type": "resync", "since": {"<id>": seq}}.
 *
 * `follow` names runs wanted but not held (a <progress-operation> for an old run); they
 * are asked for with UNKNOWN_SEQ so the server sends them whole. When more runs are held
 * than the server accepts, followed and active runs go first, then the newest.
 */
export function resyncMessage(store, { follow = [], limit = MAX_RESYNC_IDS } = {}) {
  const since = {};
  let count = 0;
  const add = (id, seq) => {
    const key = String(id);
    if (count >= limit || key in since) return;
    since[key] = seq;
    count += 1;
  };
  for (const id of follow) add(id, store[String(id)]?.seq ?? UNKNOWN_SEQ);
  const held = Object.values(store).sort(
    (a, b) => Number(isActive(b)) - Number(isActive(a)) || b.id - a.id,
  );
  for (const op of held) add(op.id, op.seq);
  return { type: FRAME_TYPES.resync, since };
}

/**
 * Delay before reconnect attempt number `attempt` (0 for the first): "full jitter",
 * uniformly random in [0, ceiling), so a server restart is not met by every browser at
 * the same instant. Never gives up: any attempt yields a delay. `outageMs` is how long
 * the connection has been down (see backoffCeiling).
 */
export function backoffDelay(attempt, { random = Math.random, ...options } = {}) {
  return random() * backoffCeiling(attempt, options);
}

/**
 * The upper bound of backoffDelay for an attempt: min(max, base * 2^attempt), and at most
 * graceMax while the outage is younger than graceMs (unknown outageMs: no grace).
 */
export function backoffCeiling(
  attempt,
  {
    base = BACKOFF_BASE_MS,
    max = BACKOFF_MAX_MS,
    outageMs = Infinity,
    graceMs = BACKOFF_GRACE_MS,
    graceMax = BACKOFF_GRACE_MAX_MS,
  } = {},
) {
  const n = Number.isFinite(attempt) && attempt > 0 ? Math.floor(attempt) : 0;
  // 2 ** n overflows to Infinity for large n; min() still gives max, never NaN.
  const ceiling = Math.min(max, base * 2 ** n);
  return outageMs >= 0 && outageMs < graceMs ? Math.min(ceiling, graceMax) : ceiling;
}

/**
 * Whether a running run has been silent long enough to ask the server about it.
 *
 * The server beats heartbeats into the database without broadcasting them, so silence
 * means either a long item or a lost broadcast; a resync tells which. `lastSeenMs` is
 * when this browser last heard of the run, on its own clock; without it the server's
 * heartbeat_at/updated_at are used, which is only as good as the two clocks agree.
 */
export function isStale(
  op,
  nowMs,
  { heartbeatMs = HEARTBEAT_MS, marginMs = STALE_MARGIN_MS, lastSeenMs } = {},
) {
  if (op?.status !== 'running') return false;
  let reference = lastSeenMs;
  if (reference == null) {
    const times = [op.heartbeat_at, op.updated_at].map((t) => Date.parse(t ?? '')).filter(Number.isFinite);
    if (times.length === 0) return true;
    reference = Math.max(...times);
  }
  return nowMs - reference > heartbeatMs + marginMs;
}

/**
 * Whether a connection has been silent long enough to stop trusting what it showed.
 *
 * Any frame proves life. Silence only counts once the server has shown it sends
 * heartbeats on this connection (heartbeatSeen): a server without them is quiet whenever
 * no run changes, and that must not read as a stall.
 */
export function isSilent({ lastFrameMs, nowMs, heartbeatSeen, silenceMs = SILENCE_MS }) {
  return Boolean(heartbeatSeen) && lastFrameMs != null && nowMs - lastFrameMs >= silenceMs;
}
