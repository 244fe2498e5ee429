// ProgressClient: one WebSocket to /ws/progress/ (or /ws/progress/<id>/) that keeps a
// store of runs current and survives restarts, sleeping laptops and flaky networks.
// With {view: 'shown'} it receives only the runs the page shows (show(), follow()) and a
// summary of the rest ({"type": "summary"}, see onFrame): traffic bounded by the screen.
// Every browser dependency (socket, timers, clock, window, document) can be injected,
// so the reconnect flow is tested in Node with fakes.

import { config, runPath } from './config.js';
import {
  applyMessage,
  backoffDelay,
  collectPart,
  emptyStore,
  FRAME_TYPES,
  HEARTBEAT_FRAME,
  HEARTBEAT_MS,
  isSilent,
  isStale,
  LIST_TYPES,
  resyncMessage,
  SILENCE_MS,
  SOCKET_HEARTBEAT_MS,
  STALE_MARGIN_MS,
} from './state.js';

export const CONNECTION_STATES = Object.freeze({
  CONNECTING: 'connecting',
  CONNECTED: 'connected',
  // Open, but no frame (not even a heartbeat) for SILENCE_MS: what the page shows may be stale.
  SILENT: 'silent',
  RECONNECTING: 'reconnecting',
  OFFLINE: 'offline',
  REFUSED: 'refused',
});

// Close codes after which retrying cannot help; anything else is worth a reconnect
// (4008 rate limited, 4009 frame too big, 4029 too many sockets open for this user:
// after a backoff another tab may have closed one; 4010 not reading fast enough; 4030
// connecting too fast).
export const CLOSE_UNAUTHENTICATED = config.closeCodes.unauthenticated;
export const CLOSE_FORBIDDEN = config.closeCodes.forbidden;
export const CLOSE_TOO_MANY_SOCKETS = config.closeCodes.tooManySockets;
export const REFUSALS = Object.freeze({
  [CLOSE_UNAUTHENTICATED]: 'signed-out',
  [CLOSE_FORBIDDEN]: 'forbidden',
});
// Close codes that are worth a retry but that the page must explain while it waits.
export const WAIT_REASONS = Object.freeze({
  [CLOSE_TOO_MANY_SOCKETS]: 'too-many-sockets',
});

// Proxies and load balancers drop sockets idle for 30-60 s; a ping every 25 s keeps
// ours busy at 0.04 messages/s, far below the server's 20/s limit.
export const PING_INTERVAL_MS = 25_000;
// No frame at all this long after a ping means a half-open connection (a laptop that
// slept, a NAT that forgot us): drop it and reconnect rather than wait for TCP.
export const PONG_TIMEOUT_MS = 10_000;
// How often running runs are checked for silence (see isStale).
export const STALE_CHECK_INTERVAL_MS = 5_000;
// How often the connection is checked for silence (see isSilent).
export const SILENCE_CHECK_INTERVAL_MS = 1_000;
// Resyncs asked for in quick succession (several elements following runs at once)
// are sent as one, after this short pause.
export const RESYNC_BATCH_MS = 50;
// A resync per second at most from staleness or follows; the server allows 20 msgs/s.
export const RESYNC_MIN_GAP_MS = 1_000;
// Runs a ?view=shown socket may name in one show message (PROGRESS["MAX_SHOWN_RUNS"]).
export const MAX_SHOWN_RUNS = config.maxShownRuns;

const SOCKET_OPEN = 1; // WebSocket.OPEN, spelled out so fakes need not define it
const NORMAL_CLOSURE = 1000;
const ABNORMAL_CLOSURE = 1006;

/** ws:// or wss:// URL of the progress endpoint on the page's own host. */
export function defaultUrl(operationId, loc = globalThis.location, { view = 'all' } = {}) {
  if (!loc) throw new Error('ProgressClient needs a url outside a browser page');
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  const path = operationId == null ? config.wsUrl : runPath(config.wsRunUrl, operationId);
  const query = operationId == null && view === 'shown' ? '?view=shown' : '';
  return `${scheme}//${loc.host}${path}${query}`;
}

/** The show message for the runs a page shows (page first, then followed), capped. */
export function showMessage({ shown = [], follow = [], filters = null, since = 0, limit = MAX_SHOWN_RUNS }) {
  const runs = [...new Set([...shown, ...follow].map(Number).filter((id) => Number.isInteger(id) && id > 0))];
  const message = { type: FRAME_TYPES.show, runs: runs.slice(0, limit), since: Number(since) || 0 };
  if (filters) {
    message.filters = { status: filters.status ?? '', q: filters.q ?? '', failures: Boolean(filters.failures) };
  }
  return message;
}

export class ProgressClient {
  /**
   * @param {object} options
   * @param {string} [options.url] WebSocket URL; derived from location by default.
   * @param {number|string} [options.operationId] follow one run over /ws/progress/<id>/.
   * @param {string} [options.view] 'all' (every visible run) or 'shown' (only the runs
   *   named by show() and follow(), plus summaries): what a dashboard should use.
   * @param {Array<object>} [options.initial] runs rendered into the page, shown at once.
   * @param {Function} [options.WebSocketImpl] WebSocket constructor (tests pass a fake).
   * @param {object} [options.clock] {now, setTimeout, clearTimeout, setInterval, clearInterval}.
   * @param {Function} [options.random] for backoff jitter.
   * @param {EventTarget} [options.window] receives 'online'/'offline'.
   * @param {object} [options.document] has visibilityState and 'visibilitychange'.
   * @param {object} [options.navigator] has onLine.
   */
  constructor({
    url,
    operationId,
    view = 'all',
    initial = [],
    WebSocketImpl = globalThis.WebSocket,
    clock = defaultClock(),
    random = Math.random,
    window: win = globalThis.window,
    document: doc = globalThis.document,
    navigator: nav = globalThis.navigator,
    heartbeatMs = HEARTBEAT_MS,
    staleMarginMs = STALE_MARGIN_MS,
    silenceMs = SILENCE_MS,
    // The server beats every quiet socket (PROGRESS["SOCKET_HEARTBEAT_INTERVAL"]), so
    // silence means a stall from the first frame on: a busy socket that never needed a
    // heartbeat must grey out too when the server stops. False for a server that does not
    // beat: then silence counts only once a heartbeat has shown it does.
    serverBeats = SOCKET_HEARTBEAT_MS > 0,
  } = {}) {
    this.operationId = operationId ?? null;
    this.view = this.operationId == null && view === 'shown' ? 'shown' : 'all';
    this.url = url ?? defaultUrl(this.operationId, undefined, { view: this.view });
    this._WebSocket = WebSocketImpl;
    this._clock = clock;
    this._random = random;
    this._window = win;
    this._document = doc;
    this._navigator = nav;
    this._staleOptions = { heartbeatMs, marginMs: staleMarginMs };
    this._silenceMs = silenceMs;
    this._serverBeats = Boolean(serverBeats);

    this._store = emptyStore();
    this._listeners = new Set();
    this._frameListeners = new Map(); // message type -> Set of callbacks (see onFrame)
    this._snapshotListeners = new Set(); // see onSnapshot
    this._lastSeen = new Map(); // run id -> when this browser last heard of it (its clock)
    this._follow = new Set();
    this._shown = { runs: [], filters: null, since: 0 }; // what show() last said
    // 'connecting' from the start: a page shows "connecting…" until the socket opens,
    // never a flash of "offline" before connect() runs.
    this._state = CONNECTION_STATES.CONNECTING;
    this._refusal = null;
    this._waitReason = null;
    this._lastError = null;

    this._socket = null;
    this._wanted = false; // connect() called and disconnect() not since
    this._everConnected = false;
    this._attempt = 0;
    this._outageSince = null; // when the socket last dropped without a snapshot since
    this._timers = {};
    this._lastResyncAt = -Infinity;
    this._awaitingPongSince = null;
    this._pendingList = null; // the parts of a snapshot or resync received so far
    this._lastFrameAt = null; // when the open socket last delivered any frame (our clock)
    this._heartbeatSeen = false; // silence is armed: the server beats (or was seen to)

    this._onWake = () => this._wake();
    this._onVisibility = () => {
      if (this._document?.visibilityState !== 'hidden') this._wake();
    };
    this._onOffline = () => {
      if (this._socket?.readyState !== SOCKET_OPEN && this._state !== CONNECTION_STATES.REFUSED) {
        this._setState(CONNECTION_STATES.OFFLINE);
      }
    };

    if (initial.length) this._apply({ type: FRAME_TYPES.snapshot, operations: initial });
  }

  /** connecting | connected | silent | reconnecting | offline | refused */
  get state() {
    return this._state;
  }

  /** Why the server refused us: 'signed-out' (4001), 'forbidden' (4003) or null. */
  get refusal() {
    return this._refusal;
  }

  /**
   * Why the client keeps reconnecting, when the server said: 'too-many-sockets' (4029,
   * the user has too many tabs open) or null. Cleared by the next snapshot, not by an
   * open: the server accepts a socket before it counts it.
   */
  get waitReason() {
    return this._waitReason;
  }

  /** The last {"type": "error"} message from the server, or null. */
  get lastError() {
    return this._lastError;
  }

  /** When the open socket last delivered a frame (on the client's clock), or null. */
  get lastFrameAt() {
    return this._lastFrameAt;
  }

  /** Whether the server has sent a heartbeat frame on the open socket. */
  get heartbeatSeen() {
    return this._heartbeatSeen;
  }

  /** How long the connection has been silent (ms), 0 unless the state is 'silent'. */
  silentForMs(now = this._clock.now()) {
    if (this._state !== CONNECTION_STATES.SILENT || this._lastFrameAt == null) return 0;
    return Math.max(0, now - this._lastFrameAt);
  }

  /** The current store: a frozen object of runs keyed by id. */
  get store() {
    return this._store;
  }

  getOperation(id) {
    return this._store[String(id)] ?? null;
  }

  operations() {
    return Object.values(this._store);
  }

  /**
   * Call back with each whole message of a type the store does not hold (e.g. a run's
   * {"type": "log"} lines). Such frames go to these callbacks only. Returns the
   * unsubscribe function.
   */
  onFrame(type, callback) {
    if (!this._frameListeners.has(type)) this._frameListeners.set(type, new Set());
    this._frameListeners.get(type).add(callback);
    return () => this._frameListeners.get(type)?.delete(callback);
  }

  /**
   * Call back after each whole snapshot is applied (the store still gets it). The server
   * sends a snapshot once the socket is in its groups: what happened before it (a run's
   * log line, say) is for the page to fetch, what happens after it arrives as frames.
   * Returns the unsubscribe function.
   */
  onSnapshot(callback) {
    this._snapshotListeners.add(callback);
    return () => this._snapshotListeners.delete(callback);
  }

  /**
   * Call back with (store, changedIds, connectionState) on every change of runs or of
   * the connection; once at once with every held id, so late subscribers start complete.
   * Returns the unsubscribe function.
   */
  subscribe(callback) {
    this._listeners.add(callback);
    this._call(callback, this.operations().map((op) => op.id));
    return () => this._listeners.delete(callback);
  }

  /** Keep a run in the store even if the server's snapshot leaves it out (old runs);
   * on a 'shown' client, the run is shown until unfollow(). */
  follow(id) {
    const numeric = Number(id);
    if (!Number.isInteger(numeric) || this._follow.has(numeric)) return;
    this._follow.add(numeric);
    if (this.view === 'shown') this._scheduleShow();
    else if (this.getOperation(numeric) == null) this._scheduleResync();
  }

  /** Drop runs from the store (a shown view no longer shows them, so they would only go
   * stale); subscribers hear their ids, and getOperation() returns null for them. */
  forget(ids) {
    const gone = ids.map(String).filter((key) => key in this._store);
    if (!gone.length) return;
    const next = { ...this._store };
    for (const key of gone) {
      delete next[key];
      this._lastSeen.delete(Number(key));
    }
    this._store = Object.freeze(next);
    this._notify(gone.map(Number));
  }

  /** Stop following a run (an element left the page). */
  unfollow(id) {
    if (this._follow.delete(Number(id)) && this.view === 'shown') this._scheduleShow();
  }

  /**
   * On a 'shown' client: the runs the page shows now (replacing the last call), and the
   * filters and newest known run id its summaries count new runs against (null: none).
   */
  show(runs, { filters = null, since = 0 } = {}) {
    this._shown = { runs: [...runs], filters, since };
    if (this.view === 'shown') this._scheduleShow();
  }

  /** Ask the server for everything newer than what is held (coalesced, rate-limited). */
  requestResync() {
    this._scheduleResync();
  }

  connect() {
    if (this._wanted) return this;
    this._wanted = true;
    this._window?.addEventListener?.('online', this._onWake);
    this._window?.addEventListener?.('offline', this._onOffline);
    this._document?.addEventListener?.('visibilitychange', this._onVisibility);
    this._open();
    return this;
  }

  disconnect() {
    this._wanted = false;
    this._window?.removeEventListener?.('online', this._onWake);
    this._window?.removeEventListener?.('offline', this._onOffline);
    this._document?.removeEventListener?.('visibilitychange', this._onVisibility);
    this._clearAllTimers();
    const socket = this._socket;
    this._socket = null;
    if (socket) {
      detach(socket);
      socket.close(NORMAL_CLOSURE);
    }
    this._setState(CONNECTION_STATES.OFFLINE);
  }

  // --- connection lifecycle -------------------------------------------------------

  _open() {
    this._clearTimer('reconnect');
    if (!this._everConnected && this._attempt === 0) this._setState(CONNECTION_STATES.CONNECTING);
    let socket;
    try {
      socket = new this._WebSocket(this.url);
    } catch (error) {
      // A malformed URL or a blocked scheme throws synchronously; treat it like a drop.
      console.warn('progress: could not open WebSocket', error);
      this._handleClose(null, { code: ABNORMAL_CLOSURE });
      return;
    }
    this._socket = socket;
    socket.onopen = () => this._handleOpen(socket);
    socket.onmessage = (event) => this._handleMessage(socket, event);
    socket.onclose = (event) => this._handleClose(socket, event);
    socket.onerror = () => {}; // a close event always follows; it carries the code
  }

  _handleOpen(socket) {
    if (socket !== this._socket) return;
    this._refusal = null;
    this._lastResyncAt = -Infinity;
    this._awaitingPongSince = null;
    this._pendingList = null;
    this._lastFrameAt = this._clock.now();
    this._heartbeatSeen = this._serverBeats;
    const reconnected = this._everConnected;
    this._everConnected = true;
    this._setState(CONNECTION_STATES.CONNECTED);
    // The snapshot covers active and recent runs; the resync also covers runs held
    // that fell out of it and anything that changed while we were away.
    // A shown view says what it shows; the answer holds each run's newest state.
    if (this.view === 'shown') this._sendShow();
    else if (reconnected) this._sendResync();
    this._setInterval('ping', () => this._ping(), PING_INTERVAL_MS);
    this._setInterval('stale', () => this._checkStale(), STALE_CHECK_INTERVAL_MS);
    this._setInterval('silence', () => this._checkSilence(), SILENCE_CHECK_INTERVAL_MS);
  }

  _handleMessage(socket, event) {
    if (socket !== this._socket) return;
    this._awaitingPongSince = null; // any frame proves the connection is alive
    this._clearTimer('pong');
    this._lastFrameAt = this._clock.now();
    if (this._state === CONNECTION_STATES.SILENT) {
      // Back from a stall: whatever changed meanwhile may have been coalesced or lost.
      this._setState(CONNECTION_STATES.CONNECTED);
      this._scheduleResync();
    }
    let msg;
    try {
      msg = JSON.parse(event.data);
    } catch {
      return; // not ours to crash on; the server only sends JSON
    }
    if (msg?.type === HEARTBEAT_FRAME) this._heartbeatSeen = true;
    if (msg?.type === FRAME_TYPES.pong) return;
    if (msg?.type === FRAME_TYPES.error) {
      this._lastError = String(msg.message ?? '');
      console.warn('progress: server said:', this._lastError);
      return;
    }
    const frameListeners = this._frameListeners.get(msg?.type);
    if (frameListeners?.size) {
      for (const callback of [...frameListeners]) {
        try {
          callback(msg);
        } catch (error) {
          console.error('progress: frame listener failed', error);
        }
      }
      return;
    }
    if (msg?.type === HEARTBEAT_FRAME) return; // proof of life only; listeners may hear it
    if (LIST_TYPES.includes(msg?.type)) {
      // Apply a list only whole: a run in part 3 is not "missing" after part 1.
      const { pending, message } = collectPart(this._pendingList, msg);
      this._pendingList = pending;
      if (message == null) return;
      msg = message;
    }
    this._apply(msg);
    if (msg?.type === FRAME_TYPES.snapshot) {
      // A served snapshot means the server is healthy again: restart the backoff.
      this._attempt = 0;
      this._waitReason = null;
      this._outageSince = null;
      // Checked after applying it: a followed run the snapshot holds needs no resync.
      if ([...this._follow].some((id) => this.getOperation(id) == null)) this._scheduleResync();
      for (const callback of [...this._snapshotListeners]) {
        try {
          callback(msg);
        } catch (error) {
          console.error('progress: snapshot listener failed', error);
        }
      }
    }
  }

  _handleClose(socket, event) {
    if (socket !== null && socket !== this._socket) return;
    if (socket) detach(socket);
    this._socket = null;
    this._pendingList = null;
    this._clearAllTimers();
    if (!this._wanted) return;
    const refusal = REFUSALS[event?.code];
    if (refusal) {
      // Signed out or not allowed: retrying on a timer would only hammer the server.
      this._refusal = refusal;
      this._setState(CONNECTION_STATES.REFUSED);
      return;
    }
    this._waitReason = WAIT_REASONS[event?.code] ?? null;
    const now = this._clock.now();
    this._outageSince ??= now;
    const delay = backoffDelay(this._attempt, {
      random: this._random,
      outageMs: now - this._outageSince,
    });
    this._attempt += 1;
    this._setState(this._isOffline() ? CONNECTION_STATES.OFFLINE : CONNECTION_STATES.RECONNECTING);
    this._setTimeout('reconnect', () => this._open(), delay);
  }

  /** Back to the page or back online: reconnect now instead of waiting out a backoff. */
  _wake() {
    if (!this._wanted) return;
    if (this._socket) {
      // Timers are throttled in background tabs; catch up on anything silent.
      if (this._socket.readyState === SOCKET_OPEN) {
        this._checkStale();
        this._checkSilence();
      }
      return;
    }
    // Also after a refusal: the user may have signed in again in another tab. This is
    // one attempt per user action, not a retry loop.
    this._open();
  }

  _isOffline() {
    return this._navigator?.onLine === false;
  }

  // --- messages -------------------------------------------------------------------

  _apply(msg) {
    const { store, changed } = applyMessage(this._store, msg);
    if (changed.length === 0) return;
    this._store = store;
    const now = this._clock.now();
    for (const id of changed) this._lastSeen.set(id, now);
    this._notify(changed);
  }

  _send(msg) {
    if (this._socket?.readyState !== SOCKET_OPEN) return false;
    this._socket.send(JSON.stringify(msg));
    return true;
  }

  _sendResync() {
    if (this._send(resyncMessage(this._store, { follow: [...this._follow] }))) {
      this._lastResyncAt = this._clock.now();
    }
  }

  _sendShow() {
    this._clearTimer('show');
    const { runs, filters, since } = this._shown;
    this._send(showMessage({ shown: runs, follow: [...this._follow], filters, since }));
  }

  _scheduleShow() {
    // Calls in one burst (a repaint, elements connecting) become one message.
    if (this._timers.show == null) this._setTimeout('show', () => this._sendShow(), RESYNC_BATCH_MS);
  }

  _scheduleResync() {
    if (this._timers.resync != null) return;
    const wait = Math.max(RESYNC_BATCH_MS, this._lastResyncAt + RESYNC_MIN_GAP_MS - this._clock.now());
    this._setTimeout('resync', () => this._sendResync(), wait);
  }

  _ping() {
    if (!this._send({ type: FRAME_TYPES.ping })) return;
    this._awaitingPongSince = this._clock.now();
    this._setTimeout('pong', () => this._dropDeadSocket(), PONG_TIMEOUT_MS);
  }

  _dropDeadSocket() {
    const socket = this._socket;
    if (!socket || this._awaitingPongSince == null) return;
    // Do not wait for the browser's own close event: on a dead link it can take minutes.
    detach(socket);
    socket.close(NORMAL_CLOSURE);
    this._handleClose(socket, { code: ABNORMAL_CLOSURE });
  }

  _checkSilence() {
    if (this._state !== CONNECTION_STATES.CONNECTED) return;
    const silent = isSilent({
      lastFrameMs: this._lastFrameAt,
      nowMs: this._clock.now(),
      heartbeatSeen: this._heartbeatSeen,
      silenceMs: this._silenceMs,
    });
    if (!silent) return;
    this._setState(CONNECTION_STATES.SILENT);
    // Probe at once: a dead link is then dropped after PONG_TIMEOUT_MS, not after the next
    // scheduled ping; a server that is only slow answers and the silence ends.
    if (this._awaitingPongSince == null) this._ping();
  }

  _checkStale() {
    const now = this._clock.now();
    let stale = false;
    for (const op of this.operations()) {
      const lastSeenMs = this._lastSeen.get(op.id) ?? now;
      if (isStale(op, now, { ...this._staleOptions, lastSeenMs })) {
        // Count the question as contact, so a run busy in one long item is asked
        // about once per heartbeat interval, not on every check.
        this._lastSeen.set(op.id, now);
        stale = true;
      }
    }
    if (stale) this._scheduleResync();
  }

  // --- listeners and timers -------------------------------------------------------

  _setState(state) {
    if (state === this._state) return;
    this._state = state;
    this._notify([]);
  }

  _notify(changed) {
    for (const callback of [...this._listeners]) this._call(callback, changed);
  }

  _call(callback, changed) {
    try {
      callback(this._store, changed, this._state);
    } catch (error) {
      // One broken view must not stop the others from updating.
      console.error('progress: subscriber failed', error);
    }
  }

  _setTimeout(name, fn, ms) {
    this._clearTimer(name);
    this._timers[name] = {
      id: this._clock.setTimeout(() => {
        delete this._timers[name];
        fn();
      }, ms),
      interval: false,
    };
  }

  _setInterval(name, fn, ms) {
    this._clearTimer(name);
    this._timers[name] = { id: this._clock.setInterval(fn, ms), interval: true };
  }

  _clearTimer(name) {
    const timer = this._timers[name];
    if (!timer) return;
    if (timer.interval) this._clock.clearInterval(timer.id);
    else this._clock.clearTimeout(timer.id);
    delete this._timers[name];
  }

  _clearAllTimers() {
    for (const name of Object.keys(this._timers)) this._clearTimer(name);
  }
}

function detach(socket) {
  socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
}

function defaultClock() {
  return {
    now: () => Date.now(),
    setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
    clearTimeout: (id) => globalThis.clearTimeout(id),
    setInterval: (fn, ms) => globalThis.setInterval(fn, ms),
    clearInterval: (id) => globalThis.clearInterval(id),
  };
}
