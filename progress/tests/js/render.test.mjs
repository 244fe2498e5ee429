import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { barModel, connectionText, countsText, itemsScopeText, itemsText, resultText, runModel, stageItemsText, stageText } from '../../static/progress/render.js';
import { op } from './fakes.mjs';

const NOW = Date.parse('2024-01-01T00:01:00Z');

describe('barModel', () => {
  test('determinate: integer value and a value text with items', () => {
    const model = barModel(op({ progress_percentage: 42.7, current_item: 427, total_items: 1000 }));
    assert.equal(model.value, 42);
    assert.equal(model.indeterminate, false);
    assert.match(model.valueText, /^42% — 427 of 1,000 items$/);
  });

  test('indeterminate running run: no value, animated, never 0 %', () => {
    const model = barModel(op({ progress_percentage: null, total_items: null, current_item: 12 }));
    assert.equal(model.value, null);
    assert.equal(model.indeterminate, true);
    assert.equal(model.animated, true);
    assert.equal(model.valueText, 'In progress, total unknown — 12 items');
  });

  test('a finished run with unknown progress is not animated', () => {
    const model = barModel(op({ status: 'failed', progress_percentage: null, total_items: null, current_item: 0 }));
    assert.equal(model.animated, false);
    assert.equal(model.valueText, 'Failed');
  });

  test('0 % is a real value when the total is known', () => {
    assert.equal(barModel(op({ progress_percentage: 0, current_item: 0 })).value, 0);
  });
});

describe('run texts', () => {
  test("a card's title is the pipeline's title, else the operation name", () => {
    assert.equal(runModel(op({ operation_name: 'gene_import', title: 'Import genes' }), NOW).title, 'Import genes');
    assert.equal(runModel(op({ operation_name: 'gene_import' }), NOW).title, 'gene_import');
  });

  test('stageText from metadata.stage (1-based index)', () => {
    const metadata = { stages: ['Fetch', 'Import', 'Score'], stage: { name: 'Import', index: 2, count: 3 } };
    assert.equal(stageText(op({ metadata })), 'Stage 2 of 3: Import');
    assert.equal(stageText(op({ metadata: { stages: ['a'], stage: null } })), '');
    assert.equal(stageText(op({ metadata: {} })), '');
  });

  test('itemsText and countsText', () => {
    assert.equal(itemsText(op({ current_item: 5, total_items: null })), '5 items');
    assert.equal(itemsText(op({ current_item: 0, total_items: null })), '');
    assert.equal(countsText(op({ items_added: 1200, items_updated: 3, items_failed: 0 }), 'en-US'), '1,200 added · 3 updated');
    assert.equal(countsText(op({})), 'No changes');
    // A re-import that changed nothing says so, not "0 added, 0 failed" (issue 24).
    assert.equal(countsText(op({ items_unchanged: 288 })), '288 unchanged');
    assert.equal(
      countsText(op({ items_added: 2, items_updated: 1, items_unchanged: 60, items_skipped: 3, items_failed: 5 })),
      '2 added · 1 updated · 60 unchanged · 3 skipped · 5 failed',
    );
  });

  test('resultText says how each final status ended', () => {
    assert.equal(resultText(op({ status: 'completed', items_added: 2, items_failed: 1 })), '2 added · 1 failed');
    assert.equal(resultText(op({ status: 'failed', error_message: 'boom' })), 'boom');
    assert.equal(resultText(op({ status: 'cancelled', current_item: 10, total_items: 100 })), 'Stopped on request after 10 of 100 items');
    assert.equal(resultText(op({ status: 'stalled', error_message: '' })), 'The run stopped responding.');
    assert.equal(resultText(op({ status: 'running' })), '');
  });

  test('a staged run counts in its stage\'s unit and a cancelled one names the stage it stopped in', () => {
    const stage = { name: 'score', index: 3, count: 4, unit: 'curations' };
    const cancelled = op({ status: 'cancelled', current_item: 0, total_items: 276, progress_percentage: 70, metadata: { stage } });
    assert.equal(itemsText(cancelled, 'en-US'), '0 of 276 curations');
    assert.equal(itemsScopeText(cancelled), 'curations, in stage 3 of 4: score');
    assert.equal(resultText(cancelled, 'en-US'), 'Stopped on request in stage 3 of 4: score, 0 of 276 curations');
    assert.equal(barModel(cancelled).valueText, '70% overall — stage 3 of 4: score, 0 of 276 curations');
  });

  test('runModel for a running and a failed run', () => {
    const running = runModel(op({ rate: 12, started_at: '2024-01-01T00:00:00Z' }), NOW);
    assert.equal(running.status, 'Running');
    assert.equal(running.elapsed, '1 min');
    assert.equal(running.rate, '12 items/s');
    assert.equal(running.isError, false);
    const failed = runModel(op({ status: 'failed', error_message: 'bad row', completed_at: '2024-01-01T00:00:30Z' }), NOW);
    assert.equal(failed.status, 'Failed');
    assert.equal(failed.detail, 'bad row');
    assert.equal(failed.elapsed, 'took 30 s');
    assert.equal(failed.rate, '');
    assert.equal(failed.isError, true);
  });
});

describe('connectionText', () => {
  test('each state, and the two refusals', () => {
    assert.equal(connectionText('connected'), 'connected');
    assert.equal(connectionText('silent'), 'no updates');
    assert.equal(connectionText('reconnecting'), 'reconnecting…');
    assert.equal(connectionText('offline'), 'offline');
    assert.equal(connectionText('refused', 'signed-out'), 'signed out');
    assert.equal(connectionText('refused', 'forbidden'), 'not allowed');
  });
});

describe('barModel of a staged run', () => {
  test('keeps the overall percent apart from the stage and its items', () => {
    const staged = op({
      progress_percentage: 65,
      current_item: 220,
      total_items: 276,
      metadata: { stage: { index: 2, count: 4, name: 'scoring' }, stages: ['a', 'scoring', 'c', 'd'] },
    });
    assert.equal(barModel(staged).valueText, '65% overall — stage 2 of 4: scoring, 220 of 276 items');
    assert.equal(stageItemsText(staged), 'Stage 2 of 4: scoring, 220 of 276 items');
    assert.equal(stageItemsText(op()), '');
  });
});
