import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';

import { ProgressClient } from '../../static/progress/client.js';
import { collectPart } from '../../static/progress/state.js';
import { FakeClock, FakeWebSocket, fakeEnvironment, op } from './fakes.mjs';

const MAX_FRAME_BYTES = 64 * 1024;

/** Split runs into list frames the way the server does: each frame under 64 KiB. */
function frames(type, operations) {
  const chunks = [[]];
  let size = 0;
  for (const run of operations) {
    const text = JSON.stringify(run);
    if (chunks.at(-1).length && size + text.length + 1 > MAX_FRAME_BYTES - 256) {
      chunks.push([]);
      size = 0;
    }
    chunks.at(-1).push(run);
    size += text.length + 1;
  }
  return chunks.map((chunk, i) => ({ type, part: i + 1, parts: chunks.length, operations: chunk }));
}

// 300 runs with a 2 KB metadata summary each: about 700 KB, so about a dozen frames.
const runs = Array.from({ length: 300 }, (_, i) =>
  op({ id: i + 1, seq: 10, metadata: { summary: { note: 'x'.repeat(2000) } } }),
);

function connectedClient(options = {}) {
  const client = new ProgressClient({
    url: 'ws://test.local/ws/progress/',
    WebSocketImpl: FakeWebSocket,
    clock: new FakeClock(),
    random: () => 0.5,
    ...fakeEnvironment(),
    ...options,
  });
  const changes = [];
  client.subscribe((_store, changed) => changed.length && changes.push(changed));
  client.connect();
  FakeWebSocket.latest().open();
  return { client, socket: FakeWebSocket.latest(), changes };
}

beforeEach(() => FakeWebSocket.reset());

describe('collectPart', () => {
  test('a frame without parts is whole', () => {
    const msg = { type: 'snapshot', operations: [op()] };
    assert.deepEqual(collectPart(null, msg), { pending: null, message: msg });
  });

  test('parts are held until the last one, then returned as one list', () => {
    const [a, b, c] = frames('resync', runs).slice(0, 3).map((f, i, all) => ({ ...f, parts: all.length }));
    let state = collectPart(null, a);
    assert.equal(state.message, null);
    state = collectPart(state.pending, b);
    assert.equal(state.message, null);
    state = collectPart(state.pending, c);
    assert.equal(state.pending, null);
    assert.equal(state.message.type, 'resync');
    assert.equal(state.message.operations.length, a.operations.length + b.operations.length + c.operations.length);
  });

  test('a part without its start is dropped, and a new part 1 starts over', () => {
    const all = frames('snapshot', runs);
    assert.deepEqual(collectPart(null, all[1]), { pending: null, message: null });
    const started = collectPart(null, all[0]).pending;
    const restarted = collectPart(started, all[0]).pending;
    assert.equal(restarted.operations.length, all[0].operations.length);
  });
});

describe('ProgressClient with a snapshot in parts', () => {
  test('a 300-run snapshot in several frames, each under 64 KiB, is applied once, whole', () => {
    const { client, socket, changes } = connectedClient();
    const parts = frames('snapshot', runs);
    assert.ok(parts.length > 3, `expected several parts, got ${parts.length}`);
    for (const frame of parts) assert.ok(JSON.stringify(frame).length <= MAX_FRAME_BYTES);
    for (const frame of parts.slice(0, -1)) socket.receive(frame);
    assert.equal(client.operations().length, 0, 'nothing applied before the last part');
    socket.receive(parts.at(-1));
    assert.equal(client.operations().length, 300);
    assert.equal(changes.length, 1, 'subscribers hear one change for the whole snapshot');
  });

  test('a followed run in the last part does not trigger a resync after part 1', () => {
    const clock = new FakeClock();
    const { client, socket } = connectedClient({ clock });
    client.follow(300);
    clock.advance(60); // the follow's own resync (nothing held yet)
    socket.sent.length = 0;
    for (const frame of frames('snapshot', runs)) socket.receive(frame);
    clock.advance(5_000);
    assert.deepEqual(socket.sent, []);
    assert.equal(client.getOperation(300).seq, 10);
  });

  test('runs held before a snapshot in parts are kept, and events between parts apply', () => {
    const { client, socket } = connectedClient({ initial: [op({ id: 999, seq: 4 })] });
    const parts = frames('snapshot', runs);
    socket.receive(parts[0]);
    socket.receive({ type: 'progress_update', data: op({ id: 1, seq: 11 }) });
    for (const frame of parts.slice(1)) socket.receive(frame);
    assert.equal(client.getOperation(999).seq, 4);
    assert.equal(client.getOperation(1).seq, 11, 'the newer event is not overwritten');
    assert.equal(client.operations().length, 301);
  });

  test('a reconnect discards the parts of a snapshot cut short', () => {
    const clock = new FakeClock();
    const { client, socket } = connectedClient({ clock });
    const parts = frames('snapshot', runs);
    socket.receive(parts[0]);
    socket.serverClose(1006);
    clock.advance(20_000); // past the backoff: a new socket
    const second = FakeWebSocket.latest();
    assert.notEqual(second, socket);
    second.open();
    second.receive(parts.at(-1)); // the old snapshot's last part alone
    assert.equal(client.operations().length, 0);
  });
});
