import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  approximateDuration,
  elapsedMs,
  etaText,
  formatAgo,
  formatCount,
  formatDateTime,
  formatDuration,
  formatPercent,
  formatRate,
  formatValue,
  humanizeKey,
  badgeKey,
  lateCancelText,
  percentValue,
  runStatusText,
  statusLabel,
} from '../../static/progress/state.js';
import { op } from './fakes.mjs';

const T0 = Date.parse('2024-01-01T00:00:00Z');

describe('formatDuration', () => {
  test('seconds, minutes, hours and days', () => {
    assert.equal(formatDuration(0), '0 s');
    assert.equal(formatDuration(42_900), '42 s');
    assert.equal(formatDuration(60_000), '1 min');
    assert.equal(formatDuration(245_000), '4 min 5 s');
    assert.equal(formatDuration(3_725_000), '1 h 2 min');
    assert.equal(formatDuration(7_200_000), '2 h');
    assert.equal(formatDuration(27 * 3_600_000), '1 d 3 h');
  });

  test('unknown or negative durations', () => {
    assert.equal(formatDuration(null), '—');
    assert.equal(formatDuration(NaN), '—');
    assert.equal(formatDuration(-5_000), '0 s');
  });
});

describe('formatRate', () => {
  test('fast rates are whole numbers with grouping, medium ones get a decimal', () => {
    assert.equal(formatRate(1234.4, 'en-US'), '1,234 items/s');
    assert.equal(formatRate(42.6, 'en-US'), '43 items/s');
    assert.equal(formatRate(4.25, 'en-US'), '4.3 items/s');
    assert.equal(formatRate(1, 'en-US'), '1.0 items/s');
  });

  test('slow rates read per minute or per hour', () => {
    assert.equal(formatRate(0.5, 'en-US'), '30 items/min');
    assert.equal(formatRate(0.005, 'en-US'), '18 items/h');
  });

  test('unknown rates', () => {
    assert.equal(formatRate(null), '—');
    assert.equal(formatRate(undefined), '—');
    assert.equal(formatRate(-1), '—');
    assert.equal(formatRate(0), '0 items/s');
  });
});

describe('etaText', () => {
  const eta = (seconds) => new Date(T0 + seconds * 1000).toISOString();

  test('about N left, rounded without false precision', () => {
    assert.equal(etaText(op({ estimated_completion: eta(42) }), T0), 'About 40 s left');
    assert.equal(etaText(op({ estimated_completion: eta(2) }), T0), 'About 5 s left');
    assert.equal(etaText(op({ estimated_completion: eta(130) }), T0), 'About 2 min left');
    assert.equal(etaText(op({ estimated_completion: eta(3 * 3600 + 600) }), T0), 'About 3 h 10 min left');
  });

  test('past or imminent estimates say almost done', () => {
    assert.equal(etaText(op({ estimated_completion: eta(-30) }), T0), 'Almost done');
  });

  test('no estimate yet, unknown total, queued, finished', () => {
    assert.equal(etaText(op({ estimated_completion: null }), T0), 'Estimating…');
    assert.equal(etaText(op({ estimated_completion: null, progress_percentage: null }), T0), 'Unknown');
    assert.equal(etaText(op({ status: 'queued' }), T0), 'Waiting to start');
    assert.equal(etaText(op({ status: 'completed', estimated_completion: eta(60) }), T0), '');
  });

  test('approximateDuration', () => {
    assert.equal(approximateDuration(61_000), '1 min');
    assert.equal(approximateDuration(89_000), '1 min');
    assert.equal(approximateDuration(91_000), '2 min');
  });
});

describe('elapsedMs', () => {
  test('running runs count to now, finished ones to completed_at', () => {
    assert.equal(elapsedMs(op({ started_at: '2024-01-01T00:00:00Z' }), T0 + 5_000), 5_000);
    const done = op({ status: 'completed', completed_at: '2024-01-01T00:01:00Z' });
    assert.equal(elapsedMs(done, T0 + 999_999), 60_000);
  });

  test('not started: null; a browser clock behind the server: 0, not negative', () => {
    assert.equal(elapsedMs(op({ started_at: null }), T0), null);
    assert.equal(elapsedMs(op(), T0 - 10_000), 0);
  });
});

describe('small formatters', () => {
  test('percentValue floors, clamps and keeps null as null', () => {
    assert.equal(percentValue(66.67), 66);
    assert.equal(percentValue(99.99), 99);
    assert.equal(percentValue(100), 100);
    assert.equal(percentValue(140), 100);
    assert.equal(percentValue(-3), 0);
    assert.equal(percentValue(0), 0);
    assert.equal(percentValue(null), null);
    assert.equal(formatPercent(42.5), '42%');
    assert.equal(formatPercent(null), '');
  });

  test('runStatusText: cancelling, completed with failures, else the status', () => {
    assert.equal(runStatusText({ status: 'running', cancel_requested: true }), 'Cancelling…');
    assert.equal(runStatusText({ status: 'running', cancel_requested: false }), 'Running');
    assert.equal(runStatusText({ status: 'cancelled', cancel_requested: true, outcome: 'cancelled' }), 'Cancelled');
    const partly = { status: 'completed', outcome: 'completed_with_failures', items_failed: 1234 };
    assert.equal(runStatusText(partly), 'Completed with 1,234 failures');
    assert.equal(runStatusText({ status: 'completed', outcome: 'completed', items_failed: 0 }), 'Completed');
  });

  test('badgeKey follows the outcome of a finished run, the status of an active one', () => {
    assert.equal(badgeKey({ status: 'completed', outcome: 'completed_with_failures' }), 'completed_with_failures');
    assert.equal(badgeKey({ status: 'running', outcome: null }), 'running');
  });

  test('lateCancelText: only for a run that ended another way after a cancel', () => {
    assert.equal(lateCancelText({ status: 'completed', cancel_requested: true }), 'Finished before your cancel arrived');
    assert.equal(lateCancelText({ status: 'failed', cancel_requested: true }), 'Finished before your cancel arrived');
    assert.equal(lateCancelText({ status: 'cancelled', cancel_requested: true }), '');
    assert.equal(lateCancelText({ status: 'running', cancel_requested: true }), '');
    assert.equal(lateCancelText({ status: 'completed', cancel_requested: false }), '');
  });

  test('statusLabel', () => {
    assert.equal(statusLabel('completed'), 'Completed');
    assert.equal(statusLabel('cancelled'), 'Cancelled');
    assert.equal(statusLabel('paused'), 'Paused');
    assert.equal(statusLabel(undefined), 'Unknown');
  });

  test('formatCount', () => {
    assert.equal(formatCount(1234567, 'en-US'), '1,234,567');
    assert.equal(formatCount(0, 'en-US'), '0');
    assert.equal(formatCount(null), '—');
  });

  test('formatAgo', () => {
    assert.equal(formatAgo('2024-01-01T00:00:00Z', T0 + 10_000), 'just now');
    assert.equal(formatAgo('2024-01-01T00:00:00Z', T0 + 5 * 60_000), '5 min ago');
    assert.equal(formatAgo('2024-01-01T00:00:00Z', T0 + 3 * 3_600_000), '3 h ago');
    assert.equal(formatAgo('2024-01-01T00:00:00Z', T0 + 49 * 3_600_000), '2 d ago');
    assert.equal(formatAgo(null, T0), '');
  });

  test('humanizeKey and formatValue for summaries', () => {
    assert.equal(humanizeKey('genes_added'), 'Genes added');
    assert.equal(humanizeKey('rowsSkipped'), 'Rows skipped');
    assert.equal(formatValue(1500, 'en-US'), '1,500');
    assert.equal(formatValue(['a', 'b']), 'a, b');
    assert.equal(formatValue({ Definitive: 36, Limited: 1310 }, 'en-US'), 'Definitive: 36 · Limited: 1,310');
    assert.equal(formatValue('2024-03-05T14:07:00Z', 'en-US'), formatDateTime('2024-03-05T14:07:00Z', 'en-US'));
    assert.match(formatValue('2024-03-05T14:07:00Z', 'en-US'), /2024/);
    assert.equal(formatValue('2024 was a year'), '2024 was a year');
    assert.equal(formatValue(true), 'Yes');
    assert.equal(formatValue(null), '—');
  });
});
