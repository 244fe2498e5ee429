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

const doc = document;
const root = doc.querySelector('[data-operation-id]');
const operationId = Number(root.dataset.operationId);
const part = (name) => root.querySelector(`[data-part="${name}"]`);

const initial = readJsonScript(doc, 'initial-operation');
const client = new ProgressClient({ operationId, initial: initial ? [initial] : [] });
bindConnectionIndicator(doc.querySelector('[data-connection-state]'), client);

const chart = createSparkline(doc);
part('chart').append(chart);
let samples = [];
let lastRenderedStatus = initial?.status ?? null;
let lastRenderedSeq = null;

client.subscribe(() => {
  const op = client.getOperation(operationId);
  if (!op || op.seq === lastRenderedSeq) return;
  lastRenderedSeq = op.seq;
  samples = addSample(samples, op, Date.now());
  render(op);
});

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

  renderError(op);
  renderRowErrors(op.metadata?.row_errors, op.metadata?.row_errors_total);
  renderSummary(op.metadata ?? {});
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

function renderError(op) {
  const message = op.error_message || '';
  const traceback = op.metadata?.traceback || '';
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

function renderSummary(metadata) {
  const summary = metadata.summary;
  const entries = summary && typeof summary === 'object' && !Array.isArray(summary) ? Object.entries(summary) : [];
  const reportPath = metadata.report_path ? String(metadata.report_path) : '';
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
