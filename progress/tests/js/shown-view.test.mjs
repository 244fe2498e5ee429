import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { afterSummary, ShownView } from '../../static/progress/shown-view.js';

const start = { shown: [3, 2], since: 3, pending: 0, more: false, added: [] };

describe('afterSummary', () => {
  test('new runs are shown at once while the page may grow, newest first, within the limit', () => {
    const next = afterSummary(start, { new: 2, more: false, ids: [5, 4] }, { limit: 3, autoShow: true });
    assert.deepEqual(next.shown, [5, 4, 3]);
    assert.equal(next.since, 5);
    assert.deepEqual(next.added, [5, 4]);
    assert.equal(next.pending, 0);
  });

  test('a page that must not move counts them instead', () => {
    const next = afterSummary(start, { new: 2, more: false, ids: [5, 4] }, { limit: 20, autoShow: false });
    assert.deepEqual(next.shown, [3, 2]);
    assert.equal(next.pending, 2);
  });

  test('more new runs than a summary lists are counted, never half shown', () => {
    const ids = Array.from({ length: 20 }, (_, i) => 100 - i);
    const next = afterSummary(start, { new: 100, more: true, ids }, { limit: 520, autoShow: true });
    assert.deepEqual(next.shown, [3, 2]);
    assert.deepEqual([next.pending, next.more], [100, true]);
  });

  test('runs already shown are not news', () => {
    const next = afterSummary({ ...start, shown: [4, 3, 2] }, { new: 1, ids: [4] }, { limit: 20, autoShow: false });
    assert.equal(next.pending, 0);
  });
});

test('a ShownView tells its client what it shows, and again when a summary adds runs', () => {
  const calls = [];
  let onSummary = null;
  const client = {
    show: (runs, options) => calls.push([runs, options]),
    onFrame: (type, callback) => {
      if (type === 'summary') onSummary = callback;
    },
  };
  const filters = { status: '', q: 'panel', failures: false };
  const view = new ShownView(client, { runs: [7, 6], filters, limit: 20 });
  const seen = [];
  view.onChange((state) => seen.push(state.pending));
  onSummary({ type: 'summary', new: 1, more: false, ids: [9] });
  assert.deepEqual(calls, [
    [[7, 6], { filters, since: 7 }],
    [[9, 7, 6], { filters, since: 9 }],
  ]);
  assert.deepEqual(seen, [0]);
});

test('runs pushed out of a shown view are dropped from the client, not left stale', () => {
  const forgotten = [];
  let onSummary = null;
  const client = {
    show: () => {},
    forget: (ids) => forgotten.push(...ids),
    onFrame: (_type, callback) => {
      onSummary = callback;
    },
  };
  new ShownView(client, { runs: [3, 2, 1], filters: {}, limit: 3 });
  onSummary({ type: 'summary', new: 2, more: false, ids: [5, 4] });
  assert.deepEqual(forgotten, [2, 1]);
});
