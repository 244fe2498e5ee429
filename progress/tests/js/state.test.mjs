import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  applyMessage,
  backoffCeiling,
  backoffDelay,
  emptyStore,
  isSilent,
  isStale,
  MAX_RESYNC_IDS,
  resyncMessage,
  SILENCE_MS,
} from '../../static/progress/state.js';
import { op } from './fakes.mjs';

const event = (data, type = 'progress_update') => ({ type, data });

describe('applyMessage: seq ordering', () => {
  test('a new run is added and reported as changed', () => {
    const { store, changed } = applyMessage(emptyStore(), event(op({ id: 7, seq: 3 })));
    assert.deepEqual(changed, [7]);
    assert.equal(store['7'].seq, 3);
  });

  test('a cancel request is kept against states built before the run learned of it', () => {
    let { store } = applyMessage(emptyStore(), event(op({ seq: 1, status: 'running', cancel_requested: true })));
    ({ store } = applyMessage(store, event(op({ seq: 2, status: 'running', cancel_requested: false }))));
    assert.equal(store['1'].cancel_requested, true);
    ({ store } = applyMessage(store, event(op({ seq: 3, status: 'completed', cancel_requested: false }), 'task_completed')));
    assert.equal(store['1'].cancel_requested, true);
    assert.equal(store['1'].status, 'completed');
  });

  test('a higher seq replaces the held run', () => {
    let { store } = applyMessage(emptyStore(), event(op({ seq: 1, current_item: 1 })));
    ({ store } = applyMessage(store, event(op({ seq: 2, current_item: 2 }))));
    assert.equal(store['1'].current_item, 2);
  });

  test('a duplicate (same seq) is ignored and the store object is unchanged', () => {
    const first = applyMessage(emptyStore(), event(op({ seq: 5, current_item: 50 })));
    const again = applyMessage(first.store, event(op({ seq: 5, current_item: 99 })));
    assert.equal(again.store, first.store);
    assert.deepEqual(again.changed, []);
    assert.equal(again.store['1'].current_item, 50);
  });

  test('an out-of-order (older) update is ignored', () => {
    let { store } = applyMessage(emptyStore(), event(op({ seq: 9, status: 'completed' }), 'task_completed'));
    const late = applyMessage(store, event(op({ seq: 8, status: 'running' })));
    assert.deepEqual(late.changed, []);
    assert.equal(late.store['1'].status, 'completed');
  });

  test('the store passed in is never mutated', () => {
    const before = applyMessage(emptyStore(), event(op({ seq: 1 }))).store;
    applyMessage(before, event(op({ seq: 2 })));
    assert.equal(before['1'].seq, 1);
    assert.ok(Object.isFrozen(before));
  });

  test('snapshot merges: newer runs replace, older are ignored, unmentioned are kept', () => {
    let { store } = applyMessage(emptyStore(), {
      type: 'snapshot',
      operations: [op({ id: 1, seq: 5 }), op({ id: 2, seq: 5 }), op({ id: 3, seq: 5, status: 'completed' })],
    });
    const result = applyMessage(store, {
      type: 'snapshot',
      operations: [op({ id: 1, seq: 6 }), op({ id: 2, seq: 4 }), op({ id: 4, seq: 1 })],
    });
    assert.deepEqual(result.changed.sort(), [1, 4]);
    assert.equal(result.store['1'].seq, 6);
    assert.equal(result.store['2'].seq, 5);
    assert.equal(result.store['3'].status, 'completed', 'a run missing from the snapshot is kept');
    assert.deepEqual(Object.keys(result.store).sort(), ['1', '2', '3', '4']);
  });

  test('resync answers merge like snapshots', () => {
    const { store } = applyMessage(emptyStore(), event(op({ id: 1, seq: 1 })));
    const result = applyMessage(store, { type: 'resync', operations: [op({ id: 1, seq: 4, current_item: 40 })] });
    assert.deepEqual(result.changed, [1]);
    assert.equal(result.store['1'].current_item, 40);
  });

  test('the same run twice in one list keeps the highest seq and reports it once', () => {
    const result = applyMessage(emptyStore(), {
      type: 'snapshot',
      operations: [op({ seq: 2 }), op({ seq: 7 }), op({ seq: 3 })],
    });
    assert.deepEqual(result.changed, [1]);
    assert.equal(result.store['1'].seq, 7);
  });

  test('every event type is applied', () => {
    for (const type of ['task_completed', 'task_failed', 'task_cancelled', 'task_stalled']) {
      const { changed } = applyMessage(emptyStore(), event(op({ seq: 1 }), type));
      assert.deepEqual(changed, [1], type);
    }
  });

  test('pong, error, unknown and malformed messages change nothing', () => {
    const store = emptyStore();
    for (const msg of [
      { type: 'pong' },
      { type: 'error', message: 'x' },
      { type: 'mystery', data: op() },
      null,
      'text',
      { type: 'progress_update' },
      { type: 'progress_update', data: { id: 'x', seq: 1 } },
      { type: 'progress_update', data: { id: 1 } },
      { type: 'snapshot', operations: 'nope' },
    ]) {
      const result = applyMessage(store, msg);
      assert.equal(result.store, store);
      assert.deepEqual(result.changed, []);
    }
  });
});

describe('applyMessage: batch frames (a client that lags)', () => {
  test('every event of a batch is applied, finals included', () => {
    const batch = {
      type: 'batch',
      events: [event(op({ id: 1, seq: 4 })), event(op({ id: 2, seq: 9, status: 'completed' }), 'task_completed')],
    };
    const { store, changed } = applyMessage(emptyStore(), batch);
    assert.deepEqual(changed, [1, 2]);
    assert.equal(store['2'].status, 'completed');
  });

  test('an event older than the held run is ignored inside a batch too', () => {
    let { store } = applyMessage(emptyStore(), event(op({ id: 1, seq: 5, current_item: 50 })));
    ({ store } = applyMessage(store, { type: 'batch', events: [event(op({ id: 1, seq: 3 }))] }));
    assert.equal(store['1'].current_item, 50);
  });

  test('a malformed batch changes nothing', () => {
    for (const bad of [{ type: 'batch' }, { type: 'batch', events: [null, { type: 'nope', data: op() }] }]) {
      const { store, changed } = applyMessage(emptyStore(), bad);
      assert.deepEqual(changed, []);
      assert.deepEqual(Object.keys(store), []);
    }
  });
});

describe('resyncMessage', () => {
  test('names every held run with its seq', () => {
    const { store } = applyMessage(emptyStore(), {
      type: 'snapshot',
      operations: [op({ id: 3, seq: 30 }), op({ id: 12, seq: 1_000_004, status: 'stalled' })],
    });
    assert.deepEqual(resyncMessage(store), { type: 'resync', since: { 3: 30, 12: 1_000_004 } });
  });

  test('is valid JSON the server parses: string keys, integer seqs', () => {
    const { store } = applyMessage(emptyStore(), event(op({ id: 5, seq: 2 })));
    assert.equal(JSON.stringify(resyncMessage(store)), '{"type":"resync","since":{"5":2}}');
  });

  test('an empty store asks for everything', () => {
    assert.deepEqual(resyncMessage(emptyStore()), { type: 'resync', since: {} });
  });

  test('followed runs not held are asked for with seq -1', () => {
    const { store } = applyMessage(emptyStore(), event(op({ id: 1, seq: 4 })));
    assert.deepEqual(resyncMessage(store, { follow: [1, 42] }).since, { 1: 4, 42: -1 });
  });

  test('caps the ids at the server limit, keeping followed and active runs first', () => {
    const operations = [];
    for (let id = 1; id <= MAX_RESYNC_IDS + 5; id += 1) {
      operations.push(op({ id, seq: 1, status: id === 1 ? 'running' : 'completed' }));
    }
    const { store } = applyMessage(emptyStore(), { type: 'snapshot', operations });
    const { since } = resyncMessage(store, { follow: [2] });
    assert.equal(Object.keys(since).length, MAX_RESYNC_IDS);
    assert.ok('1' in since, 'the active run is kept');
    assert.ok('2' in since, 'the followed run is kept');
    assert.ok(String(MAX_RESYNC_IDS + 5) in since, 'the newest finished run is kept');
    assert.ok(!('3' in since), 'the oldest finished runs are dropped');
  });
});

describe('backoffDelay', () => {
  const top = () => 1 - Number.EPSILON;

  test('the ceiling starts at 500 ms and doubles', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((a) => backoffCeiling(a)),
      [500, 1000, 2000, 4000, 8000, 16000],
    );
  });

  test('never exceeds 20 s', () => {
    for (let attempt = 0; attempt < 200; attempt += 1) {
      assert.ok(backoffDelay(attempt, { random: top }) <= 20_000, `attempt ${attempt}`);
    }
    assert.equal(backoffCeiling(6), 20_000);
  });

  test('grows with the attempt number (at the same random draw)', () => {
    const delays = [0, 1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, { random: () => 0.5 }));
    for (let i = 1; i < delays.length; i += 1) assert.ok(delays[i] > delays[i - 1], delays.join());
  });

  test('full jitter: uniformly within [0, ceiling)', () => {
    assert.equal(backoffDelay(3, { random: () => 0 }), 0);
    assert.equal(backoffDelay(3, { random: () => 0.25 }), 1000);
    const draws = Array.from({ length: 500 }, () => backoffDelay(2));
    assert.ok(draws.every((d) => d >= 0 && d < 2000));
    assert.ok(new Set(draws).size > 400, 'delays are spread, not fixed');
  });

  test('never gives up: attempt 1000 still yields a finite delay up to the max', () => {
    const delay = backoffDelay(1000, { random: () => 0.5 });
    assert.ok(Number.isFinite(delay));
    assert.equal(delay, 10_000);
    assert.equal(backoffCeiling(5000), 20_000);
  });

  test('in the first 10 s of an outage retries stay at most 2 s apart', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 8].map((a) => backoffCeiling(a, { outageMs: 9_999 })),
      [500, 1000, 2000, 2000, 2000, 2000],
    );
    assert.equal(backoffDelay(6, { random: top, outageMs: 4_000 }) < 2_000, true);
  });

  test('a longer outage backs off as usual', () => {
    assert.equal(backoffCeiling(4, { outageMs: 10_000 }), 8000);
    assert.equal(backoffCeiling(8, { outageMs: 60_000 }), 20_000);
    assert.equal(backoffCeiling(4, { outageMs: 1_000, graceMs: 500 }), 8000);
    assert.equal(backoffCeiling(4, { outageMs: 1_000, graceMax: 3000 }), 3000);
  });

  test('custom base and max are honoured; bad attempts count as the first', () => {
    assert.equal(backoffCeiling(2, { base: 100, max: 300 }), 300);
    assert.equal(backoffCeiling(1, { base: 100, max: 300 }), 200);
    assert.equal(backoffCeiling(-3), 500);
    assert.equal(backoffCeiling(NaN), 500);
  });
});

describe('isStale', () => {
  const now = Date.parse('2024-01-01T00:01:00Z');

  test('a running run silent for longer than heartbeat + margin is stale', () => {
    assert.equal(isStale(op(), now, { heartbeatMs: 10_000, marginMs: 5_000, lastSeenMs: now - 15_001 }), true);
  });

  test('within heartbeat + margin it is not', () => {
    assert.equal(isStale(op(), now, { heartbeatMs: 10_000, marginMs: 5_000, lastSeenMs: now - 15_000 }), false);
    assert.equal(isStale(op(), now, { lastSeenMs: now - 1_000 }), false);
  });

  test('queued and finished runs are never stale', () => {
    for (const status of ['queued', 'completed', 'failed', 'cancelled', 'stalled']) {
      assert.equal(isStale(op({ status }), now, { lastSeenMs: 0 }), false, status);
    }
  });

  test('without lastSeenMs the newest of heartbeat_at and updated_at is used', () => {
    const fresh = op({ updated_at: '2024-01-01T00:00:00Z', heartbeat_at: '2024-01-01T00:00:50Z' });
    assert.equal(isStale(fresh, now), false);
    const silent = op({ updated_at: '2024-01-01T00:00:30Z', heartbeat_at: '2024-01-01T00:00:20Z' });
    assert.equal(isStale(silent, now), true);
  });

  test('a running run with no time at all is worth asking about', () => {
    assert.equal(isStale(op({ updated_at: null, heartbeat_at: null }), now), true);
  });
});

describe('isSilent', () => {
  test('silent only after a heartbeat was seen and SILENCE_MS passed without a frame', () => {
    assert.equal(SILENCE_MS, 7_000);
    const base = { lastFrameMs: 1_000, heartbeatSeen: true };
    assert.equal(isSilent({ ...base, nowMs: 1_000 + SILENCE_MS - 1 }), false);
    assert.equal(isSilent({ ...base, nowMs: 1_000 + SILENCE_MS }), true);
    assert.equal(isSilent({ ...base, heartbeatSeen: false, nowMs: 100_000 }), false);
    assert.equal(isSilent({ lastFrameMs: null, heartbeatSeen: true, nowMs: 100_000 }), false);
    assert.equal(isSilent({ ...base, nowMs: 3_000, silenceMs: 2_000 }), true);
  });
});
