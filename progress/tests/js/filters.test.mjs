import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { filtersQuery, matchesFilters, partitionRuns, readFilters } from '../../static/progress/filters.js';
import { op } from './fakes.mjs';

describe('filters', () => {
  test('readFilters and filtersQuery round-trip', () => {
    const filters = readFilters('?status=failed&name=%20import%20');
    assert.deepEqual(filters, { status: 'failed', name: 'import' });
    assert.equal(filtersQuery(filters), '?status=failed&name=import');
    assert.equal(filtersQuery({ status: '', name: '' }), '');
  });

  test('matchesFilters: exact status, case-insensitive name substring', () => {
    const run = op({ status: 'failed', operation_name: 'Import_Genes' });
    assert.equal(matchesFilters(run, {}), true);
    assert.equal(matchesFilters(run, { status: 'failed' }), true);
    assert.equal(matchesFilters(run, { status: 'running' }), false);
    assert.equal(matchesFilters(run, { name: 'genes' }), true);
    assert.equal(matchesFilters(run, { name: 'score' }), false);
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
