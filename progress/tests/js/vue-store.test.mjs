// The Pinia progress store (progress/static/progress/vue/store.js) on the vendored Vue and Pinia
// builds, with a fake WebSocket and a manual clock; and its pure rules (storeLogic.js).
// 'vue' and 'pinia' resolve to the vendored files through vendored-vue.mjs.

import './vendored-vue.mjs';
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';

import { CONNECTION_STATES as S } from '../../static/progress/client.js';
import {
  activeOperations,
  clientOptions,
  copyChanges,
  findOperation,
  idOf,
  sortOperations,
} from '../../static/progress/vue/storeLogic.js';
import { FakeClock, FakeWebSocket, fakeEnvironment, op } from './fakes.mjs';

const { computed, effectScope } = await import('vue');
const { createPinia, setActivePinia } = await import('pinia');
const { defineProgressStore, useProgressStore, STORE_ID } = await import('../../static/progress/vue/store.js');

const WS_URL = 'ws://test.local/ws/progress/';
const snapshot = (...operations) => ({ type: 'snapshot', operations });
const update = (data) => ({ type: 'progress_update', data });

/** A store on a fresh Pinia, plus what connect() needs to run on fakes. */
function setup() {
  const pinia = createPinia();
  setActivePinia(pinia);
  const store = useProgressStore(pinia);
  const clock = new FakeClock();
  const seams = { url: WS_URL, WebSocketImpl: FakeWebSocket, clock, random: () => 0.5, ...fakeEnvironment() };
  return { pinia, store, clock, seams };
}

beforeEach(() => FakeWebSocket.reset());

describe('storeLogic (pure)', () => {
  test('idOf tells ids from names', () => {
    assert.equal(idOf(42), 42);
    assert.equal(idOf('42'), 42);
    assert.equal(idOf(' 7 '), 7);
    assert.equal(idOf('import_genes'), null);
    assert.equal(idOf(4.5), null);
    assert.equal(idOf(null), null);
  });

  test('copyChanges writes only changed runs with a greater seq', () => {
    const a1 = op({ id: 1, seq: 1 });
    const target = {};
    assert.deepEqual(copyChanges(target, { 1: a1 }, [1]), [1]);
    assert.equal(target['1'], a1);
    const stale = op({ id: 1, seq: 0 });
    assert.deepEqual(copyChanges(target, { 1: stale }, [1]), []);
    assert.equal(target['1'], a1);
    const a2 = op({ id: 1, seq: 2 });
    assert.deepEqual(copyChanges(target, { 1: a2, 2: op({ id: 2 }) }, [1]), [1]);
    assert.equal(target['1'], a2);
    assert.equal('2' in target, false, 'ids not reported as changed are not copied');
  });

  test('findOperation by id, by id text, and by name returns the newest run', () => {
    const ops = {
      1: op({ id: 1, operation_name: 'import_genes', created_at: '2024-01-01T00:00:00Z' }),
      5: op({ id: 5, operation_name: 'import_genes', created_at: '2024-01-03T00:00:00Z' }),
      3: op({ id: 3, operation_name: 'import_genes', created_at: '2024-01-02T00:00:00Z' }),
      4: op({ id: 4, operation_name: 'score', created_at: '2024-01-04T00:00:00Z' }),
    };
    assert.equal(findOperation(ops, 3).id, 3);
    assert.equal(findOperation(ops, '3').id, 3);
    assert.equal(findOperation(ops, 'import_genes').id, 5);
    assert.equal(findOperation(ops, 'score').id, 4);
    assert.equal(findOperation(ops, 99), null);
    assert.equal(findOperation(ops, 'nope'), null);
    assert.equal(findOperation(ops, ''), null);
  });

  test('same creation time: the higher id is the newer run', () => {
    const t = '2024-01-01T00:00:00Z';
    const ops = { 8: op({ id: 8, created_at: t }), 9: op({ id: 9, created_at: t }) };
    assert.equal(findOperation(ops, 'import_genes').id, 9);
  });

  test('sortOperations: active first (newest created), then newest finished', () => {
    const ops = {
      1: op({ id: 1, status: 'completed', completed_at: '2024-01-05T00:00:00Z' }),
      2: op({ id: 2, status: 'running', created_at: '2024-01-01T00:00:00Z' }),
      3: op({ id: 3, status: 'failed', completed_at: '2024-01-06T00:00:00Z' }),
      4: op({ id: 4, status: 'queued', created_at: '2024-01-02T00:00:00Z' }),
    };
    assert.deepEqual(sortOperations(ops).map((o) => o.id), [4, 2, 3, 1]);
    assert.deepEqual(activeOperations(ops).map((o) => o.id), [4, 2]);
  });

  test('clientOptions adds held runs to initial', () => {
    const held = { 1: op({ id: 1 }) };
    const options = clientOptions({ url: 'a' }, { url: 'b', initial: [op({ id: 2 })] }, held);
    assert.equal(options.url, 'b');
    assert.deepEqual(options.initial.map((o) => o.id), [2, 1]);
    assert.deepEqual(clientOptions({}, {}, {}).initial, []);
  });
});

describe('useProgressStore (Pinia)', () => {
  test('the store id is "progress" and the state starts empty and connecting', () => {
    const { store } = setup();
    assert.equal(STORE_ID, 'progress');
    assert.equal(store.$id, 'progress');
    assert.deepEqual(store.operations, {});
    assert.equal(store.connectionState, S.CONNECTING);
    assert.equal(store.refusal, null);
    assert.equal(store.getClient(), null);
  });

  test('connect: initial runs show at once; open -> connected; the snapshot fills operations', () => {
    const { store, seams } = setup();
    const client = store.connect({ ...seams, initial: [op({ id: 9, seq: 1 })] });
    assert.equal(store.getClient(), client);
    assert.equal(FakeWebSocket.instances.length, 1);
    assert.equal(FakeWebSocket.latest().url, WS_URL);
    assert.deepEqual(Object.keys(store.operations), ['9']);
    assert.equal(store.connectionState, S.CONNECTING);
    const socket = FakeWebSocket.latest();
    socket.open();
    assert.equal(store.connectionState, S.CONNECTED);
    socket.receive(snapshot(op({ id: 1, seq: 3 }), op({ id: 2, seq: 1, status: 'completed' })));
    assert.deepEqual(Object.keys(store.operations).sort(), ['1', '2', '9']);
    assert.equal(store.operations['1'].seq, 3);
    assert.equal(store.getOperation(2).status, 'completed');
  });

  test('connect twice keeps one client and one socket', () => {
    const { store, seams } = setup();
    const first = store.connect(seams);
    assert.equal(store.connect(seams), first);
    assert.equal(FakeWebSocket.instances.length, 1);
  });

  test('updates with a higher seq are applied, equal or lower ones ignored', () => {
    const { store, seams } = setup();
    store.connect(seams);
    const socket = FakeWebSocket.latest();
    socket.open();
    socket.receive(update(op({ id: 1, seq: 5, current_item: 50 })));
    assert.equal(store.getOperation(1).current_item, 50);
    socket.receive(update(op({ id: 1, seq: 4, current_item: 40 })));
    socket.receive(update(op({ id: 1, seq: 5, current_item: 45 })));
    assert.equal(store.getOperation(1).seq, 5);
    assert.equal(store.getOperation(1).current_item, 50);
    socket.receive({ type: 'task_completed', data: op({ id: 1, seq: 6, status: 'completed', is_active: false }) });
    assert.equal(store.getOperation(1).status, 'completed');
  });

  test('views that read the store are recomputed on updates (reactivity)', () => {
    const { store, seams } = setup();
    store.connect(seams);
    const socket = FakeWebSocket.latest();
    socket.open();
    const scope = effectScope();
    const seq = scope.run(() => computed(() => store.getOperation(1)?.seq ?? null));
    const names = scope.run(() => computed(() => store.list.map((o) => o.id)));
    assert.equal(seq.value, null);
    assert.deepEqual(names.value, []);
    socket.receive(update(op({ id: 1, seq: 2 })));
    assert.equal(seq.value, 2);
    socket.receive(update(op({ id: 1, seq: 3 })));
    assert.equal(seq.value, 3);
    socket.receive(update(op({ id: 2, seq: 1, created_at: '2024-02-01T00:00:00Z' })));
    assert.deepEqual(names.value, [2, 1]);
    scope.stop();
  });

  test('getOperation by id, id text and name (most recent run of that name)', () => {
    const { store, seams } = setup();
    store.connect(seams);
    const socket = FakeWebSocket.latest();
    socket.open();
    socket.receive(
      snapshot(
        op({ id: 1, operation_name: 'nightly', created_at: '2024-01-01T00:00:00Z', status: 'completed' }),
        op({ id: 2, operation_name: 'nightly', created_at: '2024-01-02T00:00:00Z' }),
        op({ id: 3, operation_name: 'score', created_at: '2024-01-03T00:00:00Z' }),
      ),
    );
    assert.equal(store.getOperation(1).id, 1);
    assert.equal(store.getOperation('3').operation_name, 'score');
    assert.equal(store.getOperation('nightly').id, 2);
    assert.equal(store.getOperation('missing'), null);
    // A newer run of the same name takes over.
    socket.receive(update(op({ id: 4, seq: 1, operation_name: 'nightly', created_at: '2024-01-04T00:00:00Z' })));
    assert.equal(store.getOperation('nightly').id, 4);
  });

  test('activeOperations and list: active first, newest first', () => {
    const { store, seams } = setup();
    store.connect(seams);
    const socket = FakeWebSocket.latest();
    socket.open();
    socket.receive(
      snapshot(
        op({ id: 1, status: 'completed', is_active: false, completed_at: '2024-01-09T00:00:00Z' }),
        op({ id: 2, status: 'running', created_at: '2024-01-01T00:00:00Z' }),
        op({ id: 3, status: 'running', created_at: '2024-01-02T00:00:00Z' }),
        op({ id: 4, status: 'failed', is_active: false, completed_at: '2024-01-10T00:00:00Z' }),
      ),
    );
    assert.deepEqual(store.activeOperations.map((o) => o.id), [3, 2]);
    assert.deepEqual(store.list.map((o) => o.id), [3, 2, 4, 1]);
    socket.receive(update(op({ id: 3, seq: 2, status: 'completed', is_active: false, completed_at: '2024-01-11T00:00:00Z' })));
    assert.deepEqual(store.activeOperations.map((o) => o.id), [2]);
    assert.deepEqual(store.list.map((o) => o.id), [2, 3, 4, 1]);
  });

  test('a dropped socket -> reconnecting; the reconnect resyncs with held seqs (from ProgressClient)', () => {
    const { store, seams, clock } = setup();
    store.connect(seams);
    let socket = FakeWebSocket.latest();
    socket.open();
    socket.receive(snapshot(op({ id: 1, seq: 7 })));
    socket.serverClose(1006);
    assert.equal(store.connectionState, S.RECONNECTING);
    clock.advance(250); // first backoff: half of 500 ms with random() = 0.5
    assert.equal(FakeWebSocket.instances.length, 2);
    socket = FakeWebSocket.latest();
    socket.open();
    assert.equal(store.connectionState, S.CONNECTED);
    assert.deepEqual(socket.sent, [{ type: 'resync', since: { 1: 7 } }]);
  });

  test('a refusal (4001) -> refused with the reason, and no retry', () => {
    const { store, seams, clock } = setup();
    store.connect(seams);
    const socket = FakeWebSocket.latest();
    socket.open();
    socket.serverClose(4001);
    assert.equal(store.connectionState, S.REFUSED);
    assert.equal(store.refusal, 'signed-out');
    clock.advance(60_000);
    assert.equal(FakeWebSocket.instances.length, 1);
  });

  test('disconnect closes the socket, goes offline, keeps the runs and hears nothing more', () => {
    const { store, seams, clock } = setup();
    store.connect(seams);
    const socket = FakeWebSocket.latest();
    socket.open();
    socket.receive(snapshot(op({ id: 1, seq: 2 })));
    store.disconnect();
    assert.equal(socket.closedWith, 1000);
    assert.equal(store.connectionState, S.OFFLINE);
    assert.equal(store.getClient(), null);
    assert.equal(store.getOperation(1).seq, 2);
    socket.receive(update(op({ id: 1, seq: 3 })));
    assert.equal(store.getOperation(1).seq, 2);
    clock.advance(60_000);
    assert.equal(FakeWebSocket.instances.length, 1, 'no reconnect after disconnect');
  });

  test('connect after disconnect opens a new socket whose client holds the runs', () => {
    const { store, seams } = setup();
    store.connect(seams);
    FakeWebSocket.latest().open();
    FakeWebSocket.latest().receive(snapshot(op({ id: 1, seq: 4 })));
    store.disconnect();
    const client = store.connect(seams);
    assert.equal(FakeWebSocket.instances.length, 2);
    assert.equal(client.getOperation(1).seq, 4);
    FakeWebSocket.latest().open();
    assert.equal(store.connectionState, S.CONNECTED);
  });

  test('follow() before connect asks the server for a run the snapshot left out', () => {
    const { store, seams, clock } = setup();
    store.follow(77);
    store.follow('not-an-id');
    store.connect(seams);
    const socket = FakeWebSocket.latest();
    socket.open();
    socket.receive(snapshot(op({ id: 1, seq: 1 })));
    clock.advance(1_000);
    assert.deepEqual(socket.sent, [{ type: 'resync', since: { 77: -1, 1: 1 } }]);
  });

  test('disposing the store disconnects', () => {
    const { store, seams } = setup();
    store.connect(seams);
    const socket = FakeWebSocket.latest();
    socket.open();
    store.$dispose();
    assert.equal(socket.closedWith, 1000);
  });

  test('defineProgressStore: separate ids are separate stores with their own defaults', () => {
    const pinia = createPinia();
    const clock = new FakeClock();
    const useRemote = defineProgressStore({
      id: 'progressRemote',
      url: 'wss://progress.example.org/ws/progress/',
      WebSocketImpl: FakeWebSocket,
      clock,
      ...fakeEnvironment(),
    });
    const remote = useRemote(pinia);
    const local = useProgressStore(pinia);
    assert.notEqual(remote, local);
    assert.equal(remote.$id, 'progressRemote');
    remote.connect();
    assert.equal(FakeWebSocket.latest().url, 'wss://progress.example.org/ws/progress/');
    FakeWebSocket.latest().open();
    assert.equal(remote.connectionState, S.CONNECTED);
    assert.equal(local.connectionState, S.CONNECTING);
    remote.disconnect();
  });
});
