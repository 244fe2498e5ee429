import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  etaFromHistory,
  historyRateSamples,
  LogBuffer,
  mergeSamples,
  passesLevel,
  rerunUrl,
  rowErrorsView,
  settingsEntries,
  silenceText,
  sinceText,
  titleText,
} from '../../static/progress/run-extras.js';

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
  test('a run that completed with failed items says so, without the ✓', () => {
    const done = run({ status: 'completed', outcome: 'completed_with_failures', items_failed: 5 });
    assert.equal(titleText(done), '⚠ Completed with 5 failures: gene_import #12');
    assert.equal(titleText({ ...done, items_failed: 1 }), '⚠ Completed with 1 failure: gene_import #12');
  });

  test("names the run by the pipeline's title when the server sends one (issue 24)", () => {
    assert.equal(titleText(run({ title: 'Import genes' })), '[42%] Import genes #12');
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
  test('a count back at 0 (the next file or stage starting) makes no point, not a drop to zero', () => {
    const out = historyRateSamples([[0, 0], [1, 50], [2, 100], [2.5, 0], [3.5, 40]], 0);
    assert.deepEqual(out, [{ t: 1_000, v: 50 }, { t: 2_000, v: 50 }, { t: 3_500, v: 40 }]);
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

describe('silence and last update', () => {
  test('silenceText counts seconds, then minutes', () => {
    assert.equal(silenceText(8_400), 'No update for 8 s');
    assert.equal(silenceText(65_000), 'No update for 1 min 5 s');
  });

  test('sinceText says seconds, not "just now", after a few seconds', () => {
    const now = Date.parse('2024-01-01T00:01:00Z');
    assert.equal(sinceText('2024-01-01T00:00:59Z', now), 'just now');
    assert.equal(sinceText('2024-01-01T00:00:52Z', now), '8 s ago');
    assert.equal(sinceText('2024-01-01T00:00:00Z', now + 120_000), '3 min ago');
    assert.equal(sinceText(null, now), '');
  });
});

describe('etaFromHistory', () => {
  test('only a running run with an ETA from past runs', () => {
    const base = run({ estimated_completion: '2024-01-01T00:10:00Z', metadata: { eta_source: 'history' } });
    assert.equal(etaFromHistory(base), true);
    assert.equal(etaFromHistory({ ...base, metadata: { eta_source: 'live' } }), false);
    assert.equal(etaFromHistory({ ...base, estimated_completion: null }), false);
    assert.equal(etaFromHistory({ ...base, status: 'completed' }), false);
  });
});

describe('settings and run again', () => {
  const pipeline = {
    name: 'gene_import',
    parameters: [
      { name: 'file', label: 'File', type: 'file' },
      { name: 'scope', label: 'Scope', type: 'text' },
    ],
  };
  const parameters = { file: 'uploads/3f2a.csv', scope: 'kidney', format: 'auto' };
  const files = [{ name: 'uploads/3f2a.csv', label: 'big-panel.csv', kind: 'upload' }];

  test('labels come from the pipeline; a file shows its user-given name, never its storage name', () => {
    assert.deepEqual(settingsEntries(parameters, { files, pipeline }), [
      { name: 'file', label: 'File', value: 'big-panel.csv', isFile: true },
      { name: 'scope', label: 'Scope', value: 'kidney', isFile: false },
      { name: 'format', label: 'Format', value: 'auto', isFile: false },
    ]);
    // Without the pipeline's description (you may not start it) the files still map.
    assert.equal(settingsEntries(parameters, { files })[0].value, 'big-panel.csv');
    assert.deepEqual(settingsEntries(null), []);
  });

  test('rerunUrl prefills the start form through the query, leaving the file out', () => {
    assert.equal(
      rerunUrl('/progress/', 'gene_import', parameters, { pipeline }),
      '/progress/?start=gene_import&scope=kidney&format=auto#start-gene_import',
    );
  });
});

describe('rowErrorsView', () => {
  const rows = Array.from({ length: 14 }, (_, i) => ({ line: i + 1 }));

  test('a running run shows its newest failures, a finished one its first; "show all" shows every one', () => {
    const live = rowErrorsView(rows, 14, { active: true });
    assert.deepEqual(live.rows.map((r) => r.line), [5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    assert.equal(live.note, 'Showing the newest 10 of 14 row failures.');
    assert.equal(live.more, true);
    const done = rowErrorsView(rows, 14, { active: false });
    assert.deepEqual(done.rows.map((r) => r.line).slice(0, 2), [1, 2]);
    assert.equal(rowErrorsView(rows, 14, { expanded: true }).rows.length, 14);
  });

  test('few failures show whole; more than were kept point to the report', () => {
    assert.equal(rowErrorsView(rows.slice(0, 3), 3).note, '3 row failures.');
    assert.equal(rowErrorsView(rows.slice(0, 1), 1).more, false);
    assert.match(rowErrorsView(rows, 500, { expanded: true }).note, /first 14 are kept; the report has every one/);
  });
});
