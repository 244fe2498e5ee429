// Test doubles for ProgressClient: a manual clock, a scriptable WebSocket and the
// window/document/navigator events the client listens to. Not a test file itself.

/** Timers that only run when the test advances time. */
export class FakeClock {
  constructor(start = 1_700_000_000_000) {
    this.time = start;
    this.nextId = 1;
    this.timers = new Map(); // id -> {at, fn, every}
  }

  now = () => this.time;

  setTimeout = (fn, ms) => this._add(fn, ms, null);
  setInterval = (fn, ms) => this._add(fn, ms, ms);
  clearTimeout = (id) => this.timers.delete(id);
  clearInterval = (id) => this.timers.delete(id);

  _add(fn, ms, every) {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn, every });
    return id;
  }

  /** Move time forward, firing due timers in order (timers may add timers). */
  advance(ms) {
    const end = this.time + ms;
    for (;;) {
      let nextId = null;
      let next = null;
      for (const [id, timer] of this.timers) {
        if (timer.at <= end && (next === null || timer.at < next.at)) {
          nextId = id;
          next = timer;
        }
      }
      if (next === null) break;
      this.time = next.at;
      if (next.every === null) this.timers.delete(nextId);
      else next.at += Math.max(1, next.every);
      next.fn();
    }
    this.time = end;
  }

  pendingCount() {
    return this.timers.size;
  }
}

/** A WebSocket the test drives: open(), receive(), serverClose(). */
export class FakeWebSocket {
  static instances = [];

  static reset() {
    FakeWebSocket.instances = [];
  }

  static latest() {
    return FakeWebSocket.instances[FakeWebSocket.instances.length - 1];
  }

  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.closedWith = null;
    FakeWebSocket.instances.push(this);
  }

  send(text) {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    this.sent.push(JSON.parse(text));
  }

  close(code = 1000) {
    this.closedWith = code;
    this.readyState = 3;
  }

  open() {
    this.readyState = 1;
    this.onopen?.({});
  }

  receive(message) {
    this.onmessage?.({ data: typeof message === 'string' ? message : JSON.stringify(message) });
  }

  serverClose(code) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

/** window, document and navigator with just what the client uses. */
export function fakeEnvironment() {
  const window = new EventTarget();
  const document = new EventTarget();
  document.visibilityState = 'visible';
  const navigator = { onLine: true };
  return { window, document, navigator };
}

/** A run as the server sends it, with overrides. */
export function op(overrides = {}) {
  return {
    id: 1,
    operation_name: 'import_genes',
    status: 'running',
    seq: 1,
    current_operation: '',
    progress_percentage: 10,
    current_item: 10,
    total_items: 100,
    items_added: 0,
    items_updated: 0,
    items_failed: 0,
    error_message: '',
    rate: 5,
    metadata: {},
    created_by: 1,
    task_result_id: '',
    started_at: '2024-01-01T00:00:00Z',
    completed_at: null,
    estimated_completion: null,
    heartbeat_at: null,
    created_at: '2024-01-01T00:00:00Z',
    updated_at: '2024-01-01T00:00:01Z',
    is_active: true,
    is_indeterminate: false,
    cancel_requested: false,
    ...overrides,
  };
}
