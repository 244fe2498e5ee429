// One run in detail, live over /ws/progress/<id>/. Importing this module does nothing;
// the page's module script calls start(document). Each concern is its own module:
// run-status.js, run-history.js (chart), log-viewer.js, failures.js, run-details.js,
// run-settings.js, run-summary.js, notifications.js, cancel-confirm.js.

import { createCancelConfirm } from './cancel-confirm.js';
import { CONNECTION_STATES, ProgressClient } from './client.js';
import { config, runPath } from './config.js';
import { createFailuresView } from './failures.js';
import { createLogViewer } from './log-viewer.js';
import { createNotifier } from './notifications.js';
import {
  bindConnectionIndicator,
  itemsScopeText,
  readJsonScript,
  setAttr,
  setHidden,
  setText,
  updateBar,
} from './render.js';
import { createDetailsFetcher } from './run-details.js';
import { titleText } from './run-extras.js';
import { createHistoryView } from './run-history.js';
import { createSettingsView } from './run-settings.js';
import { createStatusView } from './run-status.js';
import { renderSummary } from './run-summary.js';
import { formatCount, formatDateTimeSeconds, formatPercent, formatRate, FRAME_TYPES, isActive } from './state.js';

// Elapsed time, ETA and "last update" move with the clock between messages.
const TICK_MS = 1000;
const TITLE_SUFFIX = ' · Progress';

/** Makes the run page in `doc` live; returns its client, or null on a page without a run. */
export function start(doc = globalThis.document) {
  const root = doc.querySelector('[data-operation-id]');
  return root ? mount(root, doc) : null;
}

/** Makes the run page under `root` live: connects, renders every state, ticks the clocks. */
export function mount(root, doc = root.ownerDocument) {
  const operationId = Number(root.dataset.operationId);
  const part = (name) => root.querySelector(`[data-part="${name}"]`);
  const announce = (text) => announceIn(doc, text);

  // The page names its URLs (detail.html); a restyled page that omits them gets the config's.
  const detailUrl = root.dataset.detailUrl || runPath(config.apiRunUrl, operationId);
  const pipelinesUrl = root.dataset.pipelinesUrl || config.apiPipelinesUrl;
  const listUrl = root.dataset.listUrl || config.listUrl;
  const runApiUrl = detailUrl.replace(/\/$/, '');

  const initial = readJsonScript(doc, 'initial-operation');
  const client = new ProgressClient({ operationId, initial: initial ? [initial] : [] });
  const current = () => client.getOperation(operationId);
  bindConnectionIndicator(doc.querySelector('[data-connection-state]'), client);

  const page = { doc, part };
  const history = createHistoryView({
    ...page,
    historyUrl: `${runApiUrl}/history/`,
    initial,
    getOperation: current,
    onLoaded: (op) => (op ? render(op) : history.renderChart()),
  });
  const log = createLogViewer({ ...page, logsUrl: `${runApiUrl}/logs/` });
  const notifier = createNotifier({ doc, button: part('notify-button'), operationId, initial, getOperation: current });
  const cancelConfirm = createCancelConfirm({ part, announce });
  const status = createStatusView({ ...page, root, client, operationId, initial, cancelConfirm, announce });
  const failures = createFailuresView(page);
  const settings = createSettingsView({ ...page, pipelinesUrl, listUrl, getOperation: current });
  const details = createDetailsFetcher({
    detailUrl,
    initial,
    onDetails: () => {
      const op = current();
      if (op) renderDetails(op);
    },
  });

  /** The parts that come from the API detail, with the live run for what it lacks. */
  function renderDetails(op) {
    const fetched = details.latest;
    const meta = fetched?.metadata ?? {};
    // The detail is the newer source while its seq is; else the live frame is.
    const freshest = fetched != null && fetched.seq >= op.seq ? fetched : op;
    failures.render({
      errorMessage: freshest.error_message,
      traceback: meta.traceback,
      rows: meta.row_errors,
      total: Math.max(op.metadata?.row_errors_total ?? 0, meta.row_errors_total ?? 0),
      active: isActive(op),
    });
    renderSummary(page, freshest.metadata ?? {}, fetched?.files ?? []);
    settings.render(fetched, op);
  }

  function render(op) {
    doc.title = titleText(op, TITLE_SUFFIX);
    notifier.update(op);
    root.dataset.status = op.status;
    status.renderStatus(op);
    updateBar(part('bar'), op);
    setText(part('percent'), formatPercent(op.progress_percentage));
    status.renderStage(op);
    setText(part('current-operation'), op.current_operation || '');
    setHidden(part('current-operation'), !op.current_operation || !isActive(op));
    renderCounts(part, op);
    setText(part('rate'), op.status === 'running' ? formatRate(op.rate) : formatRate(history.averageRate(op)));
    status.renderClock(op);
    status.renderSilence();
    renderDetails(op);
    renderTimes(part, op);
    history.render(op);
  }

  // Marks the page once the server's heartbeats arrive (silence detection is then armed).
  client.onFrame(FRAME_TYPES.heartbeat, () => setAttr(root, 'data-heartbeats', 'seen'));
  client.onFrame(FRAME_TYPES.log, (msg) => {
    if (Number(msg?.id) === operationId) log.receive(msg);
  });
  // Every snapshot (the first, and after each reconnect) comes once the socket is in the
  // run's log group: lines logged before that, since the page's own fetch, are fetched.
  client.onSnapshot(() => log.catchUp());
  let lastConnectionState = client.state;
  let lastRenderedSeq = null;
  client.subscribe((_store, _changed, state) => {
    if (state !== lastConnectionState) {
      // Back from a stall: a resync, not a snapshot, follows; lines logged meanwhile may be lost.
      if (state === CONNECTION_STATES.CONNECTED && lastConnectionState === CONNECTION_STATES.SILENT) log.catchUp();
      if (state === CONNECTION_STATES.SILENT) announce('Updates have stopped arriving; the figures may be out of date.');
      else if (lastConnectionState === CONNECTION_STATES.SILENT && state === 'connected') announce('Updates resumed.');
      lastConnectionState = state;
      status.renderSilence();
      const held = current();
      if (held) {
        status.renderClock(held);
        status.renderStatus(held);
      }
    }
    const op = current();
    if (!op || op.seq === lastRenderedSeq) return;
    lastRenderedSeq = op.seq;
    history.follow(op);
    render(op);
    details.askIfNeeded(op);
  });
  details.request();
  history.load();
  log.load();

  setInterval(() => {
    status.renderSilence();
    const op = current();
    if (op && isActive(op)) status.renderClock(op);
  }, TICK_MS);
  client.connect();
  return client;
}

function renderCounts(part, op) {
  setNumber(part('current-item'), op.current_item);
  if (op.total_items == null) setText(part('total-items'), 'unknown');
  else setNumber(part('total-items'), op.total_items);
  // A staged run counts its current stage's items; say so next to the overall percent.
  setText(part('items-scope'), itemsScopeText(op));
  setNumber(part('items-added'), op.items_added);
  setNumber(part('items-updated'), op.items_updated);
  setNumber(part('items-unchanged'), op.items_unchanged);
  setNumber(part('items-skipped'), op.items_skipped);
  setNumber(part('items-failed'), op.items_failed);
}

function renderTimes(part, op) {
  for (const [name, iso] of [
    ['created-at', op.created_at],
    ['started-at', op.started_at],
    ['completed-at', op.completed_at],
  ]) {
    const node = part(name);
    setAttr(node, 'datetime', iso || null);
    setText(node, formatDateTimeSeconds(iso) || '—');
  }
}

function setNumber(node, value) {
  setText(node, formatCount(value ?? 0));
  setAttr(node, 'data-value', String(value ?? 0));
}

function announceIn(doc, text) {
  const node = doc.querySelector('[data-announcer]');
  setText(node, '');
  requestAnimationFrame(() => setText(node, text));
}
