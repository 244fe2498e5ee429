import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  describeRun,
  newValueNote,
  notifyKey,
  pageGroups,
  runLabel,
  startErrors,
  suggestionSearchUrl,
  usualModel,
} from '../../static/progress/run-list.js';
import { op } from './fakes.mjs';

const upload = { name: 'uploads/9f2c.csv', label: 'big.csv', kind: 'upload' };

describe('describeRun', () => {
  test('names the pipeline by its title, the uploaded file by its label and the reader', () => {
    const metadata = { pipeline: 'gene_import', files: [upload] };
    const run = op({ operation_name: 'gene_import', created_by: 7, metadata });
    const user = { id: 7, name: 'curator' };
    const text = describeRun(run, { titles: { gene_import: 'Import genes' }, user });
    assert.equal(text, 'Import genes — big.csv, by curator');
  });

  test('prefers a description the run carries in its metadata', () => {
    const description = 'Import genes — big.csv → kidney, by ann';
    const run = op({ metadata: { pipeline: 'gene_import', description, files: [upload] } });
    assert.equal(describeRun(run, { titles: { gene_import: 'Import genes' } }), description);
  });

  test("leaves out reports, storage names and other people's names", () => {
    const report = { name: 'reports/x.csv', label: 'Row errors: big.csv', kind: 'report' };
    const run = op({ operation_name: 'nightly_sync', created_by: 3, metadata: { files: [report] } });
    assert.equal(describeRun(run, { titles: {}, user: { id: 7, name: 'curator' } }), 'Nightly sync');
  });
});

test('runLabel gives each run link a distinct accessible name', () => {
  const run = op({ id: 12, operation_name: 'gene_import' });
  assert.equal(runLabel(run, 'Import genes — big.csv'), 'gene_import #12: Import genes — big.csv');
  assert.equal(runLabel(op({ id: 3, operation_name: 'x' }), ''), 'x #3');
  assert.equal(runLabel(op({ id: 4, operation_name: 'gene_import', title: 'Import genes' }), ''), 'Import genes #4');
});

test("runLabel names the run by its pipeline's title and does not repeat it (issue 24)", () => {
  const run = op({ id: 12, operation_name: 'gene_import', title: 'Import genes' });
  assert.equal(runLabel(run, 'Import genes — big.csv → kidney'), 'Import genes #12 — big.csv → kidney');
  assert.equal(runLabel(run, 'Import genes'), 'Import genes #12');
  assert.equal(runLabel(run, 'Import genesis — x'), 'Import genes #12: Import genesis — x');
});

describe('usualModel', () => {
  const running = op({ status: 'running', started_at: '2024-01-01T00:00:00Z', completed_at: null });

  test('says the usual duration and flags an active run below half the usual rate', () => {
    const usual = { seconds: 60, rate: 100 };
    assert.deepEqual(usualModel({ ...running, rate: 51 }, usual), { text: 'Usually 1 min', slow: false });
    assert.deepEqual(usualModel({ ...running, rate: 49 }, usual), { text: 'Usually 1 min', slow: true });
  });

  test('a big run that takes far longer than usual at the usual rate is not slow', () => {
    // 200,000 rows at 1,000 rows/s: 200 s, where 100-row runs took 0.1 s.
    const big = { ...running, rate: 1000, total_items: 200_000, current_item: 150_000 };
    assert.equal(usualModel(big, { seconds: 0.1, rate: 1000 }).slow, false);
  });

  test('says nothing of a finished run, or without a usual duration or a rate', () => {
    const done = op({ status: 'completed', started_at: '2024-01-01T00:00:00Z', completed_at: '2024-01-01T01:00:00Z', rate: 1 });
    assert.deepEqual(usualModel(done, { seconds: 60, rate: 100 }), { text: '', slow: false });
    assert.deepEqual(usualModel(running, {}), { text: '', slow: false });
    assert.deepEqual(usualModel({ ...running, rate: null }, { seconds: 60, rate: 100 }), { text: 'Usually 1 min', slow: false });
    assert.equal(usualModel(running, { seconds: 0.4 }).text, 'Usually under 1 s');
  });
});

describe('pageGroups', () => {
  const runs = [
    op({ id: 50, status: 'running' }),
    op({ id: 45, status: 'completed' }),
    op({ id: 44, status: 'failed' }),
    op({ id: 41, status: 'completed' }),
    op({ id: 30, status: 'completed' }), // older than the page's oldest: next page's
    op({ id: 60, status: 'completed' }), // finished after the page loaded
  ];
  const page = {
    firstPage: true,
    floor: 41,
    ceiling: null,
    serverIds: new Set([50, 45, 44, 41]),
    serverFilters: { status: '', q: '' },
  };

  test('the first page shows its runs and newer ones, never the next page’s', () => {
    const groups = pageGroups(runs, { filters: { status: '', q: '' }, page });
    assert.deepEqual(groups.active.map((r) => r.id), [50]);
    assert.deepEqual(groups.recent.map((r) => r.id), [60, 45, 44, 41]);
    assert.equal(groups.lowest, 41);
    assert.equal(groups.cut, false);
  });

  test('a long-open first page keeps the newest and pages on from the oldest shown', () => {
    const groups = pageGroups(runs, { filters: { status: '', q: '' }, page, limit: 2 });
    assert.deepEqual(groups.recent.map((r) => r.id), [60, 45]);
    assert.deepEqual([groups.lowest, groups.cut], [45, true]);
  });

  test('an older page shows only its own window and no active group', () => {
    const older = { ...page, firstPage: false, floor: 41, ceiling: 45, serverIds: new Set([45, 41]) };
    const groups = pageGroups(runs, { filters: { status: '', q: '' }, page: older });
    assert.deepEqual(groups.active, []);
    assert.deepEqual(groups.recent.map((r) => r.id), [45, 44, 41]);
  });

  test('the server’s matches stay while the search is unchanged; a new search is local', () => {
    const searched = { ...page, serverIds: new Set([45]), serverFilters: { status: '', q: 'kidney' } };
    const describe = (run) => (run.id === 60 ? 'Import genes — kidney.csv' : 'Run curation pipeline');
    const same = pageGroups(runs, { filters: { status: '', q: 'kidney' }, page: searched, describe });
    assert.deepEqual(same.recent.map((r) => r.id), [60, 45]);
    const other = pageGroups(runs, { filters: { status: '', q: 'pipeline' }, page: searched, describe });
    assert.deepEqual(other.recent.map((r) => r.id), [45, 44, 41]);
    const failed = pageGroups(runs, { filters: { status: 'failed', q: '' }, page });
    assert.deepEqual(failed.recent.map((r) => r.id), [44]);
  });
});

describe('startErrors', () => {
  test('puts field errors beside their fields and the rest above the form', () => {
    const errors = { scope: ['Use only letters.'], other: ['Odd.'] };
    const body = { message: 'Not started: …', errors, form_errors: ['Busy.'] };
    const shown = startErrors(body, ['file', 'scope'], 400);
    assert.deepEqual(shown, { fields: { scope: 'Use only letters.' }, form: 'Odd. Busy.' });
  });

  test('falls back to the message, or the status when the answer is not JSON', () => {
    assert.deepEqual(startErrors({ message: 'Not allowed', errors: {} }, [], 403), { fields: {}, form: 'Not allowed' });
    assert.deepEqual(startErrors(null, [], 500), { fields: {}, form: 'The server answered 500; try again.' });
  });
});

test('newValueNote warns about a value that is not one of the suggestions', () => {
  const template = 'New scope “%s”: starting creates it.';
  assert.equal(newValueNote('kidny', ['kidney'], template), 'New scope “kidny”: starting creates it.');
  assert.equal(newValueNote('kidney', ['kidney'], template), '');
  assert.equal(newValueNote(' ', ['kidney'], template), '');
  assert.equal(newValueNote('first', [], template), '');
});

test('suggestionSearchUrl searches what is typed, and nothing without a URL or text', () => {
  const base = '/api/v1/pipelines/curation_pipeline/suggestions/?field=scope';
  assert.equal(suggestionSearchUrl(base, ' kid ney&'), `${base}&search=kid%20ney%26`);
  assert.equal(suggestionSearchUrl('/search/', 'a'), '/search/?search=a');
  assert.equal(suggestionSearchUrl(base, '  '), '');
  assert.equal(suggestionSearchUrl('', 'kidney'), '');
});

test('notifyKey is the key the run page reads', () => {
  assert.equal(notifyKey(12), 'progress-notify:12');
});
