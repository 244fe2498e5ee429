import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { filtersQuery, matchesFilters, partitionRuns, readFilters, searchWords } from '../../static/progress/filters.js';
import { op } from './fakes.mjs';

describe('filters', () => {
  test('readFilters and filtersQuery round-trip', () => {
    const filters = readFilters('?status=failed&q=%20big.csv%20');
    assert.deepEqual(filters, { status: 'failed', q: 'big.csv', failures: false });
    assert.equal(filtersQuery(filters), '?status=failed&q=big.csv');
    assert.equal(filtersQuery({ status: '', q: '' }), '');
    assert.equal(filtersQuery({ q: 'kidney' }, { before: 40, after: null }), '?q=kidney&before=40');
  });

  test('readFilters reads the old name= links as a search', () => {
    assert.deepEqual(readFilters('?name=gene_import'), { status: '', q: 'gene_import', failures: false });
  });

  test('the failures filter round-trips and keeps runs with failed items, failed and stalled runs', () => {
    const filters = readFilters('?failures=1');
    assert.equal(filters.failures, true);
    assert.equal(filtersQuery(filters), '?failures=1');
    assert.equal(matchesFilters(op({ status: 'completed', items_failed: 5 }), filters), true);
    assert.equal(matchesFilters(op({ status: 'running', items_failed: 1 }), filters), true);
    assert.equal(matchesFilters(op({ status: 'failed', items_failed: 0 }), filters), true);
    assert.equal(matchesFilters(op({ status: 'stalled', items_failed: 0 }), filters), true);
    assert.equal(matchesFilters(op({ status: 'completed', items_failed: 0 }), filters), false);
    assert.equal(matchesFilters(op({ status: 'cancelled', items_failed: 0 }), filters), false);
  });

  test('matchesFilters: exact status, case-insensitive name substring', () => {
    const run = op({ status: 'failed', operation_name: 'Import_Genes' });
    assert.equal(matchesFilters(run, {}), true);
    assert.equal(matchesFilters(run, { status: 'failed' }), true);
    assert.equal(matchesFilters(run, { status: 'running' }), false);
    assert.equal(matchesFilters(run, { name: 'genes' }), true);
    assert.equal(matchesFilters(run, { name: 'score' }), false);
  });

  test('matchesFilters: every search word in the name, the description or #id', () => {
    const run = op({ id: 12, operation_name: 'gene_import' });
    const description = 'Import genes — big.csv → big-synthetic, by curator';
    assert.equal(matchesFilters(run, { q: 'BIG.csv curator' }, description), true);
    assert.equal(matchesFilters(run, { q: 'big.csv → big-synthetic' }, description), true);
    assert.equal(matchesFilters(run, { q: 'big.csv viewer' }, description), false);
    assert.equal(matchesFilters(run, { q: '#12' }, description), true);
    assert.equal(matchesFilters(run, { q: 'kidney' }, description), false);
  });

  test('searchWords leaves out lone separators', () => {
    assert.deepEqual(searchWords('  Big.csv → kidney , #12 '), ['big.csv', 'kidney', '#12']);
  });

  test('partitionRuns: active newest first, recent by finish time, limited', () => {
    const ops = [
      op({ id: 1, status: 'running', created_at: '2024-01-01T00:00:00Z' }),
      op({ id: 2, status: 'queued', created_at: '2024-01-01T00:05:00Z' }),
      op({ id: 3, status: 'completed', completed_at: '2024-01-01T00:01:00Z' }),
      op({ id: 4, status: 'failed', completed_at: '2024-01-01T00:09:00Z' }),
      op({ id: 5, status: 'cancelled', completed_at: '2024-01-01T00:03:00Z' }),
    ];
    const { active, recent } = partitionRuns(ops, {}, { limit: 2 });
    assert.deepEqual(active.map((o) => o.id), [2, 1]);
    assert.deepEqual(recent.map((o) => o.id), [4, 5]);
    const failedOnly = partitionRuns(ops, { status: 'failed' });
    assert.deepEqual([failedOnly.active.length, failedOnly.recent.map((o) => o.id)], [0, [4]]);
  });
});
