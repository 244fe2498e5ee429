import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { historyRateSamples, LogBuffer, mergeSamples, passesLevel, titleText } from '../../static/progress/run-extras.js';

const run = (overrides = {}) => ({ id: 12, operation_name: 'gene_import', status: 'running', progress_percentage: 42, ...overrides });
const line = (number, level = 'INFO') => ({ number, level, logger: 'x', message: `line ${number}`, time: null });

describe('titleText', () => {
  test('an active run shows its percentage', () => {
    assert.equal(titleText(run()), '[42%] gene_import #12');
    assert.equal(titleText(run(), ' · Progress'), '[42%] gene_import #12 · Progress');
  });
  test('without a percentage, the status word', () => {
    assert.equal(titleText(run({ progress_percentage: null })), '[Running] gene_import #12');
    assert.equal(titleText(run({ status: 'queued', progress_percentage: null })), '[Queued] gene_import #12');
  });
  test('finished runs: a mark or the status word', () => {
    assert.equal(titleText(run({ status: 'completed', progress_percentage: 100 })), '✓ gene_import #12');
    assert.equal(titleText(run({ status: 'failed' })), '✗ gene_import #12');
    assert.equal(titleText(run({ status: 'cancelled' })), 'Cancelled gene_import #12');
  });
});

describe('historyRateSamples', () => {
  test('rates between neighbouring samples, at the run start plus elapsed', () => {
    const out = historyRateSamples([[0, 0, 0], [2, 100, 10], [4, 300, 30]], 1_000);
    assert.deepEqual(out, [{ t: 3_000, v: 50 }, { t: 5_000, v: 100 }]);
  });
  test('a count that restarts (next stage) counts from zero; junk and repeats are skipped', () => {
    const out = historyRateSamples([[0, 0], [1, 50], 'x', [1, 60], [2, 10]], 0);
    assert.deepEqual(out, [{ t: 1_000, v: 50 }, { t: 2_000, v: 10 }]);
  });
  test('no start or no samples: nothing', () => {
    assert.deepEqual(historyRateSamples([[0, 0], [1, 1]], null), []);
    assert.deepEqual(historyRateSamples(null, 0), []);
  });
  test('mergeSamples keeps live samples newer than the history only', () => {
    const merged = mergeSamples([{ t: 1, v: 1 }, { t: 5, v: 2 }], [{ t: 4, v: 9 }, { t: 6, v: 3 }]);
    assert.deepEqual(merged, [{ t: 1, v: 1 }, { t: 5, v: 2 }, { t: 6, v: 3 }]);
    assert.deepEqual(mergeSamples([], [{ t: 4, v: 9 }]), [{ t: 4, v: 9 }]);
  });
});

describe('LogBuffer', () => {
  test('appends new lines in order and ignores duplicates', () => {
    const buffer = new LogBuffer(10);
    assert.deepEqual(buffer.add([line(2), line(1)]).appended.map((l) => l.number), [1, 2]);
    const again = buffer.add([line(2), line(3)]);
    assert.deepEqual(again.appended.map((l) => l.number), [3]);
    assert.equal(again.reordered, false);
    assert.deepEqual(buffer.add([line(3)]), { appended: [], removed: 0, reordered: false });
    assert.equal(buffer.lastNumber, 3);
  });
  test('stays bounded, dropping the oldest', () => {
    const buffer = new LogBuffer(3);
    buffer.add([line(1), line(2)]);
    const result = buffer.add([line(3), line(4), line(5)]);
    assert.equal(result.removed, 2);
    assert.deepEqual(buffer.lines.map((l) => l.number), [3, 4, 5]);
    assert.deepEqual(result.appended.map((l) => l.number), [3, 4, 5]);
    const many = buffer.add([6, 7, 8, 9, 10].map((n) => line(n)));
    assert.deepEqual(many.appended.map((l) => l.number), [8, 9, 10]);
    assert.deepEqual(buffer.lines.map((l) => l.number), [8, 9, 10]);
  });
  test('an older line arriving late reorders', () => {
    const buffer = new LogBuffer(10);
    buffer.add([line(5)]);
    const result = buffer.add([line(3)]);
    assert.equal(result.reordered, true);
    assert.deepEqual(buffer.lines.map((l) => l.number), [3, 5]);
  });
  test('level filter', () => {
    const buffer = new LogBuffer(10);
    buffer.add([line(1, 'DEBUG'), line(2, 'INFO'), line(3, 'WARNING'), line(4, 'ERROR'), line(5, 'CRITICAL')]);
    assert.equal(buffer.filtered('').length, 5);
    assert.deepEqual(buffer.filtered('WARNING').map((l) => l.number), [3, 4, 5]);
    assert.deepEqual(buffer.filtered('ERROR').map((l) => l.number), [4, 5]);
    assert.equal(passesLevel(line(1, 'weird'), 'INFO'), true);
  });
});
