// One run in detail, live over /ws/progress/<id>/.

import { addSample, createSparkline, renderSparkline, sparklineSummary } from './chart.js';
import { ProgressClient } from './client.js';
import {
  bindConnectionIndicator,
  h,
  readJsonScript,
  setAttr,
  setHidden,
  setText,
  stageText,
  STATUS_ICONS,
  updateBar,
} from './render.js';
import {
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
  isActive,
  statusLabel,
} from './state.js';

// Elapsed time, ETA and "last update" move with the clock between messages.
const TICK_MS = 1000;
// Row errors, the traceback and the report are not in live frames (they can be large):
// they come from the API detail, fetched on load, when row_errors_total grows (at most
// once per DETAILS_MIN_GAP_MS, so failures show while the run runs) and on a final state.
const DETAILS_MIN_GAP_MS = 2000;
const DETAILS_RETRIES = 3;

const doc = document;
const root = doc.querySelector('[data-operation-id]');
const operationId = Number(root.dataset.operationId);
const part = (name) => root.querySelector(`[data-part="${name}"]`);

const detailUrl = root.dataset.detailUrl || `/api/v1/operations/${operationId}/`;

const initial = readJsonScript(doc, 'initial-operation');
const client = new ProgressClient({ operationId, initial: initial ? [initial] : [] });
bindConnectionIndicator(doc.querySelector('[data-connection-state]'), client);

const chart = createSparkline(doc);
part('chart').append(chart);
let samples = [];
let lastRenderedStatus = initial?.status ?? null;
let lastRenderedSeq = null;

// The API detail last fetched (row errors, traceback, report), and when to fetch again.
const detailsState = {
  details: null,
  askedForTotal: initial?.metadata?.row_errors_total ?? 0,
  askedForFinal: initial != null && !isActive(initial),
  wanted: false,
  inFlight: false,
  timer: null,
  lastAt: -Infinity,
  failures: 0,
};

client.subscribe(() => {
  const op = client.getOperation(operationId);
  if (!op || op.seq === lastRenderedSeq) return;
  lastRenderedSeq = op.seq;
  samples = addSample(samples, op, Date.now());
  render(op);
  askForDetailsIfNeeded(op);
});
requestDetails();

setInterval(() => {
  const op = client.getOperation(operationId);
  if (op && isActive(op)) renderClock(op);
}, TICK_MS);
client.connect();

function render(op) {
  const now = Date.now();
  root.dataset.status = op.status;
  renderStatus(op);
  updateBar(part('bar'), op);
  setText(part('percent'), formatPercent(op.progress_percentage));
  renderStage(op);
  setText(part('current-operation'), op.current_operation || '');
  setHidden(part('current-operation'), !op.current_operation || !isActive(op));

  setNumber(part('current-item'), op.current_item);
  if (op.total_items == null) setText(part('total-items'), 'unknown');
  else setNumber(part('total-items'), op.total_items);
  setNumber(part('items-added'), op.items_added);
  setNumber(part('items-updated'), op.items_updated);
  setNumber(part('items-failed'), op.items_failed);
  setText(part('rate'), op.status === 'running' ? formatRate(op.rate) : '—');
  renderClock(op, now);

  renderDetails(op);
  renderTimes(op);

  renderSparkline(chart, samples);
  setText(part('chart-caption'), `Items per second since this page opened. ${sparklineSummary(samples)}`);
}

function renderStatus(op) {
  const badge = part('badge');
  setAttr(badge, 'data-status', op.status);
  setText(badge.querySelector('.badge__icon'), STATUS_ICONS[op.status] ?? '');
  setText(part('status'), statusLabel(op.status));
  if (lastRenderedStatus !== op.status) {
    if (lastRenderedStatus !== null) announce(`Run ${statusLabel(op.status).toLowerCase()}.`);
    lastRenderedStatus = op.status;
  }
  const active = isActive(op);
  setHidden(part('cancel-note'), !(active && op.cancel_requested));
  // A finished run cannot be cancelled: the form goes away for good.
  const form = part('cancel-form');
  if (form) setHidden(form, !active);
  const button = part('cancel-button');
  if (button && active && op.cancel_requested) {
    button.disabled = true;
    setText(button, 'Cancelling…');
  }
}

function renderStage(op) {
  const text = stageText(op);
  const percent = op.metadata?.stage_percentage;
  const stage = part('stage');
  setText(stage, text && percent != null && isActive(op) ? `${text} — ${formatPercent(percent)}` : text);
  setHidden(stage, !text);

  // The stage list: done ✓, current, still to come.
  const names = Array.isArray(op.metadata?.stages) ? op.metadata.stages : [];
  const list = part('stages');
  setHidden(list, names.length < 2);
  const current = op.metadata?.stage?.index ?? 0; // 1-based; 0 = none started
  const done = op.status === 'completed';
  if (list.children.length !== names.length) list.replaceChildren(...names.map(() => doc.createElement('li')));
  names.forEach((name, i) => {
    const item = list.children[i];
    const state = done || i + 1 < current ? 'done' : i + 1 === current ? 'current' : 'todo';
    setAttr(item, 'data-state', state);
    setAttr(item, 'aria-current', state === 'current' ? 'step' : null);
    setText(item, String(name));
  });
}

/** Times that move with the clock: elapsed, ETA, last update. */
function renderClock(op, now = Date.now()) {
  const elapsed = elapsedMs(op, now);
  setText(part('elapsed'), elapsed == null ? '—' : formatDuration(elapsed));
  setText(part('eta'), isActive(op) ? etaText(op, now) || '—' : '—');
  const eta = part('eta');
  setAttr(eta, 'title', op.estimated_completion && isActive(op) ? `Expected ${formatDateTime(op.estimated_completion)}` : null);
  setText(part('last-update'), formatAgo(op.updated_at, now) || '—');
}

/** More rows failed or the run ended: fetch the API detail (throttled). */
function askForDetailsIfNeeded(op) {
  const total = op.metadata?.row_errors_total ?? 0;
  const final = !isActive(op);
  if (total <= detailsState.askedForTotal && (!final || detailsState.askedForFinal)) return;
  detailsState.askedForTotal = Math.max(detailsState.askedForTotal, total);
  detailsState.askedForFinal ||= final;
  requestDetails();
}

function requestDetails() {
  detailsState.wanted = true;
  if (detailsState.inFlight || detailsState.timer != null) return;
  const wait = Math.max(0, detailsState.lastAt + DETAILS_MIN_GAP_MS - Date.now());
  detailsState.timer = setTimeout(fetchDetails, wait);
}

async function fetchDetails() {
  Object.assign(detailsState, { timer: null, wanted: false, inFlight: true, lastAt: Date.now() });
  try {
    const response = await fetch(detailUrl, {
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const data = await response.json();
    if (detailsState.details == null || data.seq >= detailsState.details.seq) detailsState.details = data;
    detailsState.failures = 0;
    const op = client.getOperation(operationId);
    if (op) renderDetails(op);
  } catch (error) {
    console.warn('progress: could not load the run details', error);
    // A blip must not leave a finished run without its details; a few tries, then wait
    // for the next change.
    detailsState.failures += 1;
    if (detailsState.failures <= DETAILS_RETRIES) detailsState.wanted = true;
  } finally {
    detailsState.inFlight = false;
    if (detailsState.wanted) requestDetails();
  }
}

/** The parts that come from the API detail, with the live run for what it lacks. */
function renderDetails(op) {
  const { details } = detailsState;
  const meta = details?.metadata ?? {};
  // The detail is the newer source while its seq is; else the live frame is.
  const freshest = details != null && details.seq >= op.seq ? details : op;
  renderError(freshest.error_message, meta.traceback);
  const total = Math.max(op.metadata?.row_errors_total ?? 0, meta.row_errors_total ?? 0);
  renderRowErrors(meta.row_errors, total);
  renderSummary(freshest.metadata ?? {}, meta.report_path);
}

function renderError(errorMessage, tracebackText) {
  const message = errorMessage || '';
  const traceback = tracebackText || '';
  setHidden(part('error-panel'), !message && !traceback);
  setText(part('error-message'), message);
  setHidden(part('error-message'), !message);
  setHidden(part('traceback'), !traceback);
  setText(part('traceback-text'), traceback);
}

function renderRowErrors(rows, total) {
  const list = Array.isArray(rows) ? rows : [];
  setHidden(part('row-errors-panel'), list.length === 0);
  if (list.length === 0) return;
  const all = Number.isFinite(total) ? Math.max(total, list.length) : list.length;
  setText(
    part('row-errors-note'),
    `Showing ${formatCount(list.length)} of ${formatCount(all)} row ${all === 1 ? 'failure' : 'failures'}.`,
  );
  const body = part('row-errors').tBodies[0];
  body.replaceChildren(
    ...list.map((row) =>
      h(
        doc,
        'tr',
        {},
        h(doc, 'td', { class: 'num' }, formatValue(row?.line)),
        h(doc, 'td', {}, h(doc, 'code', {}, formatValue(row?.value))),
        h(doc, 'td', {}, formatValue(row?.reason)),
      ),
    ),
  );
}

function renderSummary(metadata, reportPathValue) {
  const summary = metadata.summary;
  const entries = summary && typeof summary === 'object' && !Array.isArray(summary) ? Object.entries(summary) : [];
  const reportPath = reportPathValue ? String(reportPathValue) : '';
  setHidden(part('summary-panel'), entries.length === 0 && !reportPath);
  const list = part('summary');
  setHidden(list, entries.length === 0);
  list.replaceChildren(
    ...entries.flatMap(([key, value]) => [h(doc, 'dt', {}, humanizeKey(key)), h(doc, 'dd', {}, formatValue(value))]),
  );
  setHidden(part('report'), !reportPath);
  setText(part('report-path'), reportPath);
}

function renderTimes(op) {
  for (const [name, iso] of [
    ['created-at', op.created_at],
    ['started-at', op.started_at],
    ['completed-at', op.completed_at],
  ]) {
    const node = part(name);
    setAttr(node, 'datetime', iso || null);
    setText(node, formatDateTime(iso) || '—');
  }
}

function setNumber(node, value) {
  setText(node, formatCount(value ?? 0));
  setAttr(node, 'data-value', String(value ?? 0));
}

function announce(text) {
  const node = doc.querySelector('[data-announcer]');
  setText(node, '');
  requestAnimationFrame(() => setText(node, text));
}
