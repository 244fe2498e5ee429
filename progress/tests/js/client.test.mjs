import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';

import {
  CONNECTION_STATES as S,
  defaultUrl,
  ProgressClient,
} from '../../static/progress/client.js';
import { connectionText } from '../../static/progress/render.js';
import { FakeClock, FakeWebSocket, fakeEnvironment, op } from './fakes.mjs';

const URL = 'ws://test.local/ws/progress/';
// The brief's numbers, spelled out so a changed constant fails here.
const PING_INTERVAL_MS = 25_000;
const PONG_TIMEOUT_MS = 10_000;

function makeClient(options = {}) {
  const clock = new FakeClock();
  const env = fakeEnvironment();
  const client = new ProgressClient({
    url: URL,
    WebSocketImpl: FakeWebSocket,
    clock,
    random: () => 0.5, // delays at half the ceiling: 250 ms, 500 ms, 1 s, ...
    serverBeats: false, // the fake server sends no heartbeats unless a test says so
    ...env,
    ...options,
  });
  const states = [];
  const calls = [];
  client.subscribe((store, changed, state) => {
    calls.push({ store, changed, state });
    if (states[states.length - 1] !== state) states.push(state);
  });
  return { client, clock, env, states, calls };
}

const snapshot = (...operations) => ({ type: 'snapshot', operations });
const sentTypes = (socket) => socket.sent.map((m) => m.type);

beforeEach(() => FakeWebSocket.reset());

describe('ProgressClient connection flow', () => {
  test('connects to the URL and is connected once open; the first open sends no resync', () => {
    const { client } = makeClient();
    client.connect();
    assert.equal(client.state, S.CONNECTING);
    assert.equal(FakeWebSocket.instances.length, 1);
    assert.equal(FakeWebSocket.latest().url, URL);
    FakeWebSocket.latest().open();
    assert.equal(client.state, S.CONNECTED);
    assert.deepEqual(FakeWebSocket.latest().sent, []);
  });

  test('a snapshot fills the store and subscribers hear the changed ids', () => {
    const { client, calls } = makeClient();
    client.connect();
    const socket = FakeWebSocket.latest();
    socket.open();
    socket.receive(snapshot(op({ id: 1, seq: 3 }), op({ id: 2, seq: 1, status: 'completed' })));
    assert.deepEqual(calls[calls.length - 1].changed.sort(), [1, 2]);
    assert.equal(client.getOperation(1).seq, 3);
    assert.equal(client.getOperation('2').status, 'completed');
    assert.equal(client.operations().length, 2);
    assert.equal(client.getOperation(99), null);
  });

  test('duplicates and stale events do not wake subscribers', () => {
    const { client, calls } = makeClient();
    client.connect();
    const socket = FakeWebSocket.latest();
    socket.open();
    socket.receive({ type: 'progress_update', data: op({ seq: 5 }) });
    const before = calls.length;
    socket.receive({ type: 'progress_update', data: op({ seq: 5 }) });
    socket.receive({ type: 'progress_update', data: op({ seq: 4 }) });
    socket.receive('not json');
    assert.equal(calls.length, before);
    assert.equal(client.getOperation(1).seq, 5);
  });

  test('a batch frame updates every run in it and wakes subscribers once', () => {
    const { client, calls } = makeClient();
    client.connect();
    const socket = FakeWebSocket.latest();
    socket.open();
    const before = calls.length;
    socket.receive({
      type: 'batch',
      events: [
        { type: 'progress_update', data: op({ id: 1, seq: 2 }) },
        { type: 'task_completed', data: op({ id: 2, seq: 8, status: 'completed' }) },
      ],
    });
    assert.equal(calls.length, before + 1);
    assert.deepEqual(calls[calls.length - 1].changed, [1, 2]);
    assert.equal(client.getOperation(2).status, 'completed');
  });

  test('close -> reconnecting -> reopen sends a resync with the held seqs', () => {
    const { client, clock, states } = makeClient();
    client.connect();
    const first = FakeWebSocket.latest();
    first.open();
    first.receive(snapshot(op({ id: 1, seq: 7 }), op({ id: 2, seq: 1_000_002, status: 'stalled' })));
    first.receive({ type: 'progress_update', data: op({ id: 1, seq: 9 }) });

    first.serverClose(1006);
    assert.equal(client.state, S.RECONNECTING);
    assert.equal(FakeWebSocket.instances.length, 1, 'waits out the backoff first');
    clock.advance(249);
    assert.equal(FakeWebSocket.instances.length, 1);
    clock.advance(1);
    assert.equal(FakeWebSocket.instances.length, 2, 'reconnects after 250 ms (0.5 x 500 ms)');

    const second = FakeWebSocket.latest();
    second.open();
    assert.equal(client.state, S.CONNECTED);
    assert.deepEqual(second.sent, [{ type: 'resync', since: { 1: 9, 2: 1_000_002 } }]);
    assert.deepEqual(states, [S.CONNECTING, S.CONNECTED, S.RECONNECTING, S.CONNECTED]);

    second.receive({ type: 'resync', operations: [op({ id: 1, seq: 12, status: 'completed' })] });
    assert.equal(client.getOperation(1).status, 'completed');
  });

  test('consecutive failures wait 250, 500, 1000 ms, then at most 2 s apart for the first 10 s, then back off (random 0.5)', () => {
    const { client, clock } = makeClient();
    client.connect();
    const waits = [];
    for (let i = 0; i < 14; i += 1) {
      FakeWebSocket.latest().serverClose(1006);
      const count = FakeWebSocket.instances.length;
      let waited = 0;
      while (FakeWebSocket.instances.length === count) {
        clock.advance(1);
        waited += 1;
        assert.ok(waited <= 20_000, 'never waits beyond the 20 s cap');
      }
      waits.push(waited);
    }
    // A restart is over within seconds: retries 1 s apart (ceiling 2 s) until the outage
    // is 10 s old (at 10.75 s here), then the usual doubling (ceiling 20 s at attempt 12).
    assert.deepEqual(waits, [250, 500, 1000, ...Array(9).fill(1000), 10000, 10000]);
    assert.equal(client.state, S.RECONNECTING);

    // A served snapshot proves the server healthy: the next drop waits 250 ms again.
    const socket = FakeWebSocket.latest();
    socket.open();
    socket.receive(snapshot());
    socket.serverClose(1011);
    const count = FakeWebSocket.instances.length;
    clock.advance(250);
    assert.equal(FakeWebSocket.instances.length, count + 1);
  });

  test('keeps reconnecting after many failures (never gives up)', () => {
    const { client, clock } = makeClient();
    client.connect();
    for (let i = 0; i < 60; i += 1) {
      FakeWebSocket.latest().serverClose(1006);
      clock.advance(20_000);
    }
    assert.equal(FakeWebSocket.instances.length, 61);
    assert.equal(client.state, S.RECONNECTING);
  });

  test('close code 4001 -> refused (signed out) and no reconnect', () => {
    const { client, clock } = makeClient();
    client.connect();
    const socket = FakeWebSocket.latest();
    socket.open();
    socket.serverClose(4001);
    assert.equal(client.state, S.REFUSED);
    assert.equal(client.refusal, 'signed-out');
    clock.advance(60 * 60_000);
    assert.equal(FakeWebSocket.instances.length, 1);
    assert.equal(clock.pendingCount(), 0, 'no timers left running');
  });

  test('close code 4003 -> refused (forbidden) and no reconnect', () => {
    const { client, clock } = makeClient({ url: 'ws://test.local/ws/progress/5/', operationId: 5 });
    client.connect();
    FakeWebSocket.latest().open();
    FakeWebSocket.latest().serverClose(4003);
    assert.equal(client.state, S.REFUSED);
    assert.equal(client.refusal, 'forbidden');
    clock.advance(60 * 60_000);
    assert.equal(FakeWebSocket.instances.length, 1);
  });

  test('too many sockets (4029): retries and says to close another tab until a snapshot arrives', () => {
    const { client, clock } = makeClient();
    client.connect();
    FakeWebSocket.latest().open();
    FakeWebSocket.latest().serverClose(4029);
    assert.equal(client.state, S.RECONNECTING);
    assert.equal(client.waitReason, 'too-many-sockets');
    assert.match(
      connectionText(client.state, client.refusal, client.waitReason),
      /^Too many open tabs: close another progress tab/,
    );
    clock.advance(250);
    assert.equal(FakeWebSocket.instances.length, 2, 'another tab may have closed: it retries');
    FakeWebSocket.latest().open(); // the server accepts before it counts, then may close again
    assert.equal(client.waitReason, 'too-many-sockets');
    FakeWebSocket.latest().receive(snapshot());
    assert.equal(client.waitReason, null);
    assert.equal(connectionText(client.state, client.refusal, client.waitReason), 'connected');
  });

  test('rate-limited (4008), too-big (4009) and connecting-too-fast (4030) closes reconnect', () => {
    for (const code of [4008, 4009, 4030]) {
      FakeWebSocket.reset();
      const { client, clock } = makeClient();
      client.connect();
      FakeWebSocket.latest().open();
      FakeWebSocket.latest().serverClose(code);
      assert.equal(client.state, S.RECONNECTING, `code ${code}`);
      clock.advance(250);
      assert.equal(FakeWebSocket.instances.length, 2, `code ${code}`);
    }
  });

  test('returning to the page reconnects at once instead of waiting out the backoff', () => {
    const { client, clock, env } = makeClient();
    client.connect();
    for (let i = 0; i < 6; i += 1) {
      FakeWebSocket.latest().serverClose(1006);
      clock.advance(20_000);
    }
    FakeWebSocket.latest().serverClose(1006); // now waiting up to 10 s
    const count = FakeWebSocket.instances.length;
    env.document.visibilityState = 'visible';
    env.document.dispatchEvent(new Event('visibilitychange'));
    assert.equal(FakeWebSocket.instances.length, count + 1);
    clock.advance(20_000);
    assert.equal(FakeWebSocket.instances.length, count + 1, 'the pending backoff timer was cancelled');
  });

  test('a hidden-tab visibilitychange does not reconnect', () => {
    const { client, env } = makeClient();
    client.connect();
    FakeWebSocket.latest().serverClose(1006);
    const count = FakeWebSocket.instances.length;
    env.document.visibilityState = 'hidden';
    env.document.dispatchEvent(new Event('visibilitychange'));
    assert.equal(FakeWebSocket.instances.length, count);
  });

  test('going offline shows offline; coming online reconnects at once', () => {
    const { client, env } = makeClient();
    client.connect();
    FakeWebSocket.latest().open();
    env.navigator.onLine = false;
    FakeWebSocket.latest().serverClose(1006);
    assert.equal(client.state, S.OFFLINE);
    env.window.dispatchEvent(new Event('offline'));
    assert.equal(client.state, S.OFFLINE);
    const count = FakeWebSocket.instances.length;
    env.navigator.onLine = true;
    env.window.dispatchEvent(new Event('online'));
    assert.equal(FakeWebSocket.instances.length, count + 1);
    FakeWebSocket.latest().open();
    assert.equal(client.state, S.CONNECTED);
  });

  test('disconnect() closes the socket, stops timers and never reconnects', () => {
    const { client, clock, env } = makeClient();
    client.connect();
    const socket = FakeWebSocket.latest();
    socket.open();
    client.disconnect();
    assert.equal(socket.closedWith, 1000);
    assert.equal(client.state, S.OFFLINE);
    assert.equal(clock.pendingCount(), 0);
    env.window.dispatchEvent(new Event('online'));
    clock.advance(60_000);
    assert.equal(FakeWebSocket.instances.length, 1);
  });
});

describe('ProgressClient keep-alive and staleness', () => {
  test('pings every 25 s while connected', () => {
    const { client, clock } = makeClient();
    client.connect();
    const socket = FakeWebSocket.latest();
    socket.open();
    clock.advance(PING_INTERVAL_MS - 1);
    assert.deepEqual(sentTypes(socket), []);
    clock.advance(1);
    assert.deepEqual(sentTypes(socket), ['ping']);
    socket.receive({ type: 'pong' });
    clock.advance(PING_INTERVAL_MS);
    assert.deepEqual(sentTypes(socket), ['ping', 'ping']);
    assert.equal(client.state, S.CONNECTED);
  });

  test('no answer to a ping within the timeout drops the socket and reconnects', () => {
    const { client, clock } = makeClient();
    client.connect();
    const socket = FakeWebSocket.latest();
    socket.open();
    clock.advance(PING_INTERVAL_MS + PONG_TIMEOUT_MS);
    assert.equal(socket.closedWith, 1000);
    assert.equal(client.state, S.RECONNECTING);
    clock.advance(250);
    assert.equal(FakeWebSocket.instances.length, 2);
  });

  test('a running run silent past heartbeat + margin triggers one resync', () => {
    const { client, clock } = makeClient();
    client.connect();
    const socket = FakeWebSocket.latest();
    socket.open();
    socket.receive(snapshot(op({ id: 4, seq: 2 }), op({ id: 5, seq: 1, status: 'completed' })));
    clock.advance(15_000);
    assert.deepEqual(sentTypes(socket), [], 'not yet: 15 s is within heartbeat + margin');
    clock.advance(5_000 + 50); // next staleness check, then the batching pause
    assert.deepEqual(socket.sent, [{ type: 'resync', since: { 4: 2, 5: 1 } }]);
    clock.advance(9_000); // past two more checks (25 s, and a ping: not a resync)
    assert.equal(
      socket.sent.filter((m) => m.type === 'resync').length,
      1,
      'asked once per heartbeat interval, not on every check',
    );
  });

  test('a run that keeps reporting is never considered stale', () => {
    const { client, clock } = makeClient();
    client.connect();
    const socket = FakeWebSocket.latest();
    socket.open();
    for (let seq = 1; seq <= 20; seq += 1) {
      socket.receive({ type: 'progress_update', data: op({ seq }) });
      clock.advance(3_000);
    }
    assert.ok(!sentTypes(socket).includes('resync'));
  });

  test('follow() asks the server for a run the snapshot left out, with seq -1', () => {
    const { client, clock } = makeClient();
    client.connect();
    client.follow(77);
    clock.advance(100); // the socket is not open yet: nothing can be sent
    const socket = FakeWebSocket.latest();
    socket.open();
    socket.receive(snapshot(op({ id: 1, seq: 3 })));
    assert.deepEqual(socket.sent, []);
    clock.advance(100);
    assert.deepEqual(socket.sent, [{ type: 'resync', since: { 77: -1, 1: 3 } }]);
  });

  test('server error messages are kept, not applied', () => {
    const { client } = makeClient();
    client.connect();
    const socket = FakeWebSocket.latest();
    socket.open();
    const original = console.warn;
    console.warn = () => {};
    try {
      socket.receive({ type: 'error', message: 'Unknown message type' });
    } finally {
      console.warn = original;
    }
    assert.equal(client.lastError, 'Unknown message type');
    assert.equal(client.operations().length, 0);
  });

  test('initial runs are available before connecting and not re-announced by an equal snapshot', () => {
    const { client, calls } = makeClient({ initial: [op({ id: 3, seq: 4 })] });
    assert.deepEqual(calls[0].changed, [3], 'subscribe delivers held runs at once');
    client.connect();
    const socket = FakeWebSocket.latest();
    socket.open();
    const before = calls.filter((c) => c.changed.length).length;
    socket.receive(snapshot(op({ id: 3, seq: 4 })));
    assert.equal(calls.filter((c) => c.changed.length).length, before);
  });

  test('a throwing subscriber does not stop the others', () => {
    const { client } = makeClient();
    const seen = [];
    const original = console.error;
    console.error = () => {};
    try {
      client.subscribe(() => {
        throw new Error('broken view');
      });
      client.subscribe((_s, changed) => seen.push(changed));
      client.connect();
      FakeWebSocket.latest().open();
      FakeWebSocket.latest().receive({ type: 'progress_update', data: op({ id: 8, seq: 1 }) });
    } finally {
      console.error = original;
    }
    assert.deepEqual(seen[seen.length - 1], [8]);
  });

  test('unsubscribe stops callbacks', () => {
    const { client } = makeClient();
    let count = 0;
    const off = client.subscribe(() => {
      count += 1;
    });
    off();
    client.connect();
    FakeWebSocket.latest().open();
    assert.equal(count, 1, 'only the immediate call on subscribe');
  });
});

describe('defaultUrl', () => {
  test('ws: for http pages, wss: for https, with the run id when given', () => {
    assert.equal(defaultUrl(undefined, { protocol: 'http:', host: 'localhost:8000' }), 'ws://localhost:8000/ws/progress/');
    assert.equal(defaultUrl(12, { protocol: 'https:', host: 'example.org' }), 'wss://example.org/ws/progress/12/');
  });
});

describe('ProgressClient frames of other types', () => {
  test('onFrame hears "log" frames whole; the store and subscribers do not change', () => {
    const { client, calls } = makeClient();
    const frames = [];
    const off = client.onFrame('log', (msg) => frames.push(msg));
    client.connect();
    const socket = FakeWebSocket.latest();
    socket.open();
    const before = calls.length;
    const frame = { type: 'log', id: 1, lines: [{ number: 1, level: 'INFO', message: 'hi' }], skipped: 0 };
    socket.receive(frame);
    assert.deepEqual(frames, [frame]);
    assert.equal(calls.length, before);
    off();
    socket.receive(frame);
    assert.equal(frames.length, 1);
  });

  test('a failing frame listener does not break the others or the client', () => {
    const { client } = makeClient();
    const heard = [];
    const error = console.error;
    console.error = () => {};
    try {
      client.onFrame('log', () => {
        throw new Error('boom');
      });
      client.onFrame('log', (msg) => heard.push(msg.id));
      client.connect();
      const socket = FakeWebSocket.latest();
      socket.open();
      socket.receive({ type: 'log', id: 7, lines: [] });
      socket.receive(snapshot(op({ id: 7, seq: 2 })));
    } finally {
      console.error = error;
    }
    assert.deepEqual(heard, [7]);
    assert.equal(client.getOperation(7).seq, 2);
  });
});

describe('ProgressClient onSnapshot', () => {
  test('hears each whole snapshot after the store holds it, on every connect', () => {
    const { client } = makeClient();
    const heard = [];
    const off = client.onSnapshot(() => heard.push(client.getOperation(3)?.seq ?? null));
    client.connect();
    let socket = FakeWebSocket.latest();
    socket.open();
    assert.deepEqual(heard, []); // open alone is not a snapshot: the server may not have joined yet
    socket.receive({ type: 'snapshot', part: 1, parts: 2, operations: [op({ id: 3, seq: 1 })] });
    assert.deepEqual(heard, []); // a part is not a snapshot
    socket.receive({ type: 'snapshot', part: 2, parts: 2, operations: [] });
    assert.deepEqual(heard, [1]);
    socket.close(1006);
    client.connect();
    socket = FakeWebSocket.latest();
    socket.open();
    socket.receive(snapshot(op({ id: 3, seq: 4 })));
    assert.deepEqual(heard, [1, 4]);
    off();
    socket.receive(snapshot(op({ id: 3, seq: 5 })));
    assert.equal(heard.length, 2);
  });
});

describe('ProgressClient silence (server heartbeats)', () => {
  // The contract, spelled out so a changed constant fails here.
  const HEARTBEAT = { type: 'heartbeat' };
  const SILENCE_MS = 7_000;

  function connected(options = {}) {
    const made = makeClient({ serverBeats: true, ...options });
    made.client.connect();
    const socket = FakeWebSocket.latest();
    socket.open();
    socket.receive(snapshot(op({ id: 1, seq: 1 })));
    return { ...made, socket };
  }

  test('a busy socket that never got a heartbeat still goes silent when frames stop', () => {
    const { client, clock, socket } = connected();
    assert.equal(client.heartbeatSeen, true); // armed from the open: this server beats
    for (let seq = 2; seq < 12; seq += 1) {
      socket.receive({ type: 'progress_update', data: op({ id: 1, seq }) });
      clock.advance(500); // frames flow: the server never needed a heartbeat here
    }
    assert.equal(client.state, S.CONNECTED);
    clock.advance(SILENCE_MS); // the server stops (SIGSTOP, a stuck loop)
    assert.equal(client.state, S.SILENT);
  });

  test('without any heartbeat frame a quiet connection stays connected (older servers)', () => {
    const { client, clock } = connected({ serverBeats: false });
    clock.advance(20_000);
    assert.equal(client.state, S.CONNECTED);
    assert.equal(client.heartbeatSeen, false);
  });

  test('after a heartbeat, 7 s without any frame is silent, and says for how long', () => {
    const { client, clock, socket, states } = connected();
    socket.receive(HEARTBEAT);
    assert.equal(client.heartbeatSeen, true);
    clock.advance(SILENCE_MS - 1_000);
    assert.equal(client.state, S.CONNECTED);
    clock.advance(1_000);
    assert.equal(client.state, S.SILENT);
    assert.equal(client.silentForMs(), SILENCE_MS);
    clock.advance(2_000);
    assert.equal(client.silentForMs(), SILENCE_MS + 2_000);
    assert.deepEqual(states.slice(-2), [S.CONNECTED, S.SILENT]);
  });

  test('heartbeats every 3 s keep the connection connected; they never reach the store', () => {
    const { client, clock, socket, calls } = connected();
    const before = calls.length;
    for (let i = 0; i < 10; i += 1) {
      socket.receive(HEARTBEAT);
      clock.advance(3_000);
    }
    assert.equal(client.state, S.CONNECTED);
    assert.equal(calls.length, before);
    assert.equal(client.silentForMs(), 0);
  });

  test('going silent probes with a ping at once; no answer drops the socket', () => {
    const { client, clock, socket } = connected();
    socket.receive(HEARTBEAT);
    clock.advance(SILENCE_MS);
    assert.deepEqual(sentTypes(socket), ['ping']);
    clock.advance(PONG_TIMEOUT_MS);
    assert.equal(socket.closedWith, 1000);
    assert.equal(client.state, S.RECONNECTING);
    assert.equal(client.silentForMs(), 0);
  });

  test('any frame ends the silence and asks for a resync', () => {
    const { client, clock, socket } = connected();
    socket.receive(HEARTBEAT);
    clock.advance(SILENCE_MS + 1_000);
    assert.equal(client.state, S.SILENT);
    socket.receive({ type: 'pong' });
    assert.equal(client.state, S.CONNECTED);
    clock.advance(100);
    assert.deepEqual(sentTypes(socket), ['ping', 'resync']);
    assert.deepEqual(socket.sent[1].since, { 1: 1 });
  });

  test('onFrame listeners hear heartbeats (a page can show that silence detection is armed)', () => {
    const { client, socket } = connected();
    const heard = [];
    client.onFrame('heartbeat', (msg) => heard.push(msg.type));
    socket.receive(HEARTBEAT);
    assert.deepEqual(heard, ['heartbeat']);
    assert.equal(client.heartbeatSeen, true);
  });

  test('a new socket must show heartbeats again before it can be silent', () => {
    const { client, clock, socket } = connected({ serverBeats: false });
    socket.receive(HEARTBEAT);
    socket.serverClose(1006);
    clock.advance(1_000);
    const next = FakeWebSocket.latest();
    assert.notEqual(next, socket);
    next.open();
    assert.equal(client.heartbeatSeen, false);
    clock.advance(SILENCE_MS * 2);
    assert.equal(client.state, S.CONNECTED);
  });
});

describe("ProgressClient view 'shown': only the runs on screen", () => {
  const shownClient = () => makeClient({ url: `${URL}?view=shown`, view: 'shown' });

  test('the default URL of a shown view asks for it', () => {
    const loc = { protocol: 'https:', host: 'example.org' };
    assert.equal(defaultUrl(null, loc, { view: 'shown' }), 'wss://example.org/ws/progress/?view=shown');
    assert.equal(defaultUrl(null, loc), 'wss://example.org/ws/progress/');
    assert.equal(defaultUrl(4, loc, { view: 'shown' }), 'wss://example.org/ws/progress/4/');
  });

  test('once open, it says what the page shows', () => {
    const { client, clock } = shownClient();
    client.show([3, 2], { filters: { status: 'running', q: 'panel' }, since: 3 });
    client.follow(7); // a <progress-operation> element on the same page
    client.connect();
    const socket = FakeWebSocket.latest();
    socket.open();
    clock.advance(100);
    assert.deepEqual(socket.sent, [
      {
        type: 'show',
        runs: [3, 2, 7],
        since: 3,
        filters: { status: 'running', q: 'panel', failures: false },
      },
    ]);
  });

  test('changes in one burst become one show message, and a reconnect says it again', () => {
    const { client, clock } = shownClient();
    client.connect();
    let socket = FakeWebSocket.latest();
    socket.open();
    clock.advance(100);
    socket.sent.length = 0;
    client.show([1]);
    client.show([1, 2]);
    client.follow(9);
    client.unfollow(9);
    clock.advance(100);
    assert.deepEqual(socket.sent, [{ type: 'show', runs: [1, 2], since: 0 }]);

    socket.serverClose(1006);
    clock.advance(30_000);
    socket = FakeWebSocket.latest();
    socket.open();
    // The answer to show holds every shown run's newest state: no resync is needed.
    assert.deepEqual(sentTypes(socket), ['show']);
  });

  test('a summary frame goes to its listeners, not into the store', () => {
    const { client } = shownClient();
    const summaries = [];
    client.onFrame('summary', (message) => summaries.push(message));
    client.connect();
    const socket = FakeWebSocket.latest();
    socket.open();
    socket.receive({ type: 'summary', active: { queued: 0, running: 2 }, new: 1, more: false, ids: [5] });
    assert.deepEqual(summaries.map((m) => m.ids), [[5]]);
    assert.equal(client.operations().length, 0);
  });

  test('an all-runs client never sends show, and follows by resync', () => {
    const { client, clock } = makeClient();
    client.connect();
    const socket = FakeWebSocket.latest();
    socket.open();
    client.show([1, 2]);
    client.follow(4);
    clock.advance(2_000);
    assert.deepEqual(sentTypes(socket), ['resync']);
  });
});

test('forget() drops runs from the store and tells subscribers', () => {
  const { client, calls } = makeClient();
  client.connect();
  const socket = FakeWebSocket.latest();
  socket.open();
  socket.receive(snapshot(op({ id: 1, seq: 1 }), op({ id: 2, seq: 1 })));
  client.forget([2, 99]);
  assert.equal(client.getOperation(2), null);
  assert.equal(client.getOperation(1).seq, 1);
  assert.deepEqual(calls.at(-1).changed, [2]);
});
