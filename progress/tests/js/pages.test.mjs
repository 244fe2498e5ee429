// The page modules and the run page's modules, imported without a DOM: importing does no
// DOM work (issue 22), and their pure functions work on plain runs.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { CONNECTION_STATES } from '../../static/progress/client.js';
import { errorPanelView, rowErrorsToggleText } from '../../static/progress/failures.js';
import { logEmptyText, logFrameHasGap, logNoteText } from '../../static/progress/log-viewer.js';
import { notificationBody, notifyButtonText, shouldNotify } from '../../static/progress/notifications.js';
import { detailsWanted, newerDetails } from '../../static/progress/run-details.js';
import { chartCaption, chartView, stageItemsCell, stageResultRows } from '../../static/progress/run-history.js';
import { runAgainNote } from '../../static/progress/run-settings.js';
import { quietForMs, silenceReason, stageLine, stageStates } from '../../static/progress/run-status.js';
import { madeFiles, summaryEntries } from '../../static/progress/run-summary.js';
import { SILENCE_MS } from '../../static/progress/state.js';
import { op } from './fakes.mjs';

describe('page modules', () => {
  test('import without a document and export the function their page calls', async () => {
    assert.equal(globalThis.document, undefined);
    const detail = await import('../../static/progress/detail-page.js');
    const list = await import('../../static/progress/list-page.js');
    const forms = await import('../../static/progress/start-forms.js');
    assert.equal(typeof detail.start, 'function');
    assert.equal(typeof detail.mount, 'function');
    assert.equal(typeof list.start, 'function');
    assert.equal(typeof forms.setUpStartForms, 'function');
  });

  test('the run page does nothing on a page without a run', async () => {
    const { start } = await import('../../static/progress/detail-page.js');
    assert.equal(start({ querySelector: () => null }), null);
  });
});

describe('log viewer', () => {
  const lines = (...numbers) => numbers.map((number) => ({ number }));

  test('a frame that continues the held lines leaves no gap', () => {
    assert.equal(logFrameHasGap(5, lines(6, 7)), false);
    assert.equal(logFrameHasGap(0, lines(40, 41)), false);
  });

  test('a frame that skips lines, or that the server cut, leaves a gap', () => {
    assert.equal(logFrameHasGap(5, lines(9)), true);
    assert.equal(logFrameHasGap(5, lines(6), 3), true);
  });

  test('the note counts shown lines only when some are not shown', () => {
    assert.equal(logNoteText(10, 10), '');
    assert.equal(logNoteText(1000, 2500), 'Showing the last 1,000 of 2,500 lines.');
    assert.equal(logEmptyText(0), 'No log lines yet.');
    assert.equal(logEmptyText(3), 'No lines at this level.');
  });
});

describe('notifications', () => {
  const ending = { wasActive: true, active: false, wanted: true, hidden: true, permission: 'granted' };

  test('notify once, when a wanted run ends in a hidden tab with permission', () => {
    assert.equal(shouldNotify(ending), true);
    assert.equal(shouldNotify({ ...ending, hidden: false }), false);
    assert.equal(shouldNotify({ ...ending, wasActive: false }), false);
    assert.equal(shouldNotify({ ...ending, permission: 'default' }), false);
    assert.equal(shouldNotify({ ...ending, wanted: false }), false);
  });

  test('the body says how the run ended and what it did', () => {
    const body = notificationBody(op({ status: 'completed', items_added: 1200, items_unchanged: 288, items_failed: 0 }));
    // The counts that add up (render.js countsText): none left out, zeros not said.
    assert.equal(body, 'Completed. 1,200 added · 288 unchanged.');
  });

  test('the button says the wish holds only with permission', () => {
    assert.equal(notifyButtonText(true, 'granted'), 'Will notify you when it ends');
    assert.equal(notifyButtonText(true, 'default'), 'Notify me when it ends');
  });
});

describe('failures', () => {
  test('the error panel is hidden without a message or traceback', () => {
    assert.equal(errorPanelView(null, undefined).hidden, true);
    assert.deepEqual(errorPanelView('Bad file', ''), { message: 'Bad file', traceback: '', hidden: false });
    assert.equal(rowErrorsToggleText(false, 1500), 'Show all 1,500');
    assert.equal(rowErrorsToggleText(true, 1500), 'Show fewer');
  });
});

describe('run details', () => {
  test('fetched again when more rows failed or the run ended', () => {
    const asked = { askedForTotal: 3, askedForFinal: false };
    assert.equal(detailsWanted(op({ status: 'running', metadata: { row_errors_total: 3 } }), asked), false);
    assert.equal(detailsWanted(op({ status: 'running', metadata: { row_errors_total: 4 } }), asked), true);
    assert.equal(detailsWanted(op({ status: 'completed', metadata: { row_errors_total: 3 } }), asked), true);
    assert.equal(detailsWanted(op({ status: 'completed' }), { askedForTotal: 0, askedForFinal: true }), false);
  });

  test('an older answer does not replace a newer detail', () => {
    assert.deepEqual(newerDetails({ seq: 9 }, { seq: 4 }), { seq: 9 });
    assert.deepEqual(newerDetails({ seq: 4 }, { seq: 9 }), { seq: 9 });
    assert.deepEqual(newerDetails(null, { seq: 1 }), { seq: 1 });
  });
});

describe('history', () => {
  test('the running stage takes its items from the live run', () => {
    const running = op({ status: 'running', current_item: 40, total_items: 100, metadata: { stage: { name: 'import' } } });
    const rows = stageResultRows(
      [
        { name: 'check', status: 'completed', items: 100, duration: 2 },
        { name: 'import', status: 'running', items: 10, duration: 1 },
      ],
      running,
    );
    assert.deepEqual(rows[1], { name: 'import', status: 'running', items: 40, total: 100, duration: null });
    assert.equal(rows[0].items, 100);
    assert.equal(stageItemsCell(rows[1]), '40 of 100');
    assert.equal(stageItemsCell({ items: 7 }), '7');
  });

  test('a run that ended in under a second gets no chart, only how long it took (issue 24)', () => {
    const quick = op({ status: 'completed', started_at: '2024-01-01T00:00:00.000Z', completed_at: '2024-01-01T00:00:00.400Z' });
    assert.deepEqual(chartView(quick, [], true), { show: false, caption: 'Took 0.4 s: too quick for a throughput chart.' });
    const slower = { ...quick, completed_at: '2024-01-01T00:00:02.000Z' };
    assert.equal(chartView(slower, [], true).show, true);
    const running = op({ status: 'running', started_at: '2024-01-01T00:00:00.000Z' });
    assert.equal(chartView(running, [], false, Date.parse('2024-01-01T00:00:00.300Z')).show, true);
  });

  test('the caption says what the chart covers', () => {
    assert.match(chartCaption(true, []), /^Items per second over the run\. /);
    assert.match(chartCaption(false, []), /^Items per second since this page opened\. /);
  });
});

describe('status', () => {
  test('quiet only when the socket is silent, refused, or away for SILENCE_MS', () => {
    const now = 100_000;
    assert.equal(quietForMs({ state: CONNECTION_STATES.CONNECTED, lastFrameAt: now - 60_000 }, now), 0);
    assert.equal(quietForMs({ state: CONNECTION_STATES.SILENT, lastFrameAt: now - 8000 }, now), 8000);
    assert.equal(quietForMs({ state: CONNECTION_STATES.RECONNECTING, lastFrameAt: now - 1000 }, now), 0);
    assert.equal(quietForMs({ state: CONNECTION_STATES.OFFLINE, lastFrameAt: now - SILENCE_MS }, now), SILENCE_MS);
    assert.equal(quietForMs({ state: CONNECTION_STATES.SILENT, lastFrameAt: null }, now), 0);
  });

  test('the silence notice says why', () => {
    assert.equal(silenceReason(CONNECTION_STATES.REFUSED, 'signed-out'), 'You are signed out');
    assert.equal(silenceReason(CONNECTION_STATES.SILENT, null), 'The server has gone quiet');
    assert.equal(silenceReason(CONNECTION_STATES.RECONNECTING, null), 'Reconnecting');
  });

  test('stages before the current one are done, all of them once the run completed', () => {
    assert.deepEqual(stageStates(3, 2, false), ['done', 'current', 'todo']);
    assert.deepEqual(stageStates(3, 0, false), ['todo', 'todo', 'todo']);
    assert.deepEqual(stageStates(2, 1, true), ['done', 'done']);
  });

  test('the stage line adds the stage percent while the run runs', () => {
    const meta = { stage: { index: 2, count: 3, name: 'import' }, stages: ['check', 'import', 'score'], stage_percentage: 40 };
    assert.match(stageLine(op({ status: 'running', current_item: 4, total_items: 10, metadata: meta })), /\(40% of this stage\)$/);
    assert.doesNotMatch(stageLine(op({ status: 'completed', metadata: meta })), /of this stage/);
  });
});

describe('settings and summary', () => {
  test('run again says a file must be chosen again', () => {
    assert.match(runAgainNote(true), /choose the file again/);
    assert.doesNotMatch(runAgainNote(false), /file/);
  });

  test('the summary takes a plain object and links only files the run made', () => {
    assert.deepEqual(summaryEntries({ summary: { added: 3 } }), [['added', 3]]);
    assert.deepEqual(summaryEntries({ summary: [1] }), []);
    const files = [
      { kind: 'upload', label: 'genes.csv', url: '/u' },
      { kind: 'report', label: 'report', url: '/r' },
      { kind: 'report', label: 'pruned' },
    ];
    assert.deepEqual(madeFiles(files).map((f) => f.label), ['report']);
  });
});
