// Rendering shared by the list page, the detail page and <progress-operation>.
// The *Model/*Text functions are pure (tested in Node); the DOM functions below them
// only touch the document they are given, and only write what actually changed, so
// screen readers are not re-announced and selections are not lost on every update.

import { config, runPath } from './config.js';
import {
  elapsedMs,
  etaText,
  formatAgo,
  formatCount,
  formatDuration,
  formatRate,
  isActive,
  percentValue,
  statusLabel,
  badgeKey,
  lateCancelText,
  runStatusText,
  runTitle,
} from './state.js';

// Shown before the status text; aria-hidden, since the text already says it.
export const STATUS_ICONS = Object.freeze({
  queued: '○',
  running: '●',
  completed: '✓',
  completed_with_failures: '⚠',
  failed: '✕',
  cancelled: '■',
  stalled: '!',
});

export const CONNECTION_TEXT = Object.freeze({
  connecting: 'connecting…',
  connected: 'connected',
  silent: 'no updates',
  reconnecting: 'reconnecting…',
  offline: 'offline',
  'refused:signed-out': 'signed out',
  'refused:forbidden': 'not allowed',
  refused: 'not allowed',
  'reconnecting:too-many-sockets': 'Too many open tabs: close another progress tab; this one retries',
});

/** Where a run's detail page lives. */
export function detailUrl(id) {
  return runPath(config.runUrl, id);
}

// --- pure models ----------------------------------------------------------------

/**
 * What the progress bar shows: {value, indeterminate, animated, valueText}.
 * value is the integer percentage or null; an unknown total is indeterminate, never 0 %.
 */
export function barModel(op) {
  const value = percentValue(op?.progress_percentage);
  const active = isActive(op);
  const items = itemsText(op);
  if (value == null) {
    const valueText = op?.status === 'queued'
      ? 'Waiting to start'
      : active
      ? ['In progress, total unknown', items].filter(Boolean).join(' — ')
      : `${statusLabel(op?.status)}${items ? ` — ${items}` : ''}`;
    return { value: null, indeterminate: true, animated: active, valueText };
  }
  // A staged run's items are its current stage's: say so, apart from the overall percent
  // ("65% overall — stage 2 of 4: scoring, 220 of 276 items"), never "65% — 220 of 276".
  const stage = stageItemsText(op);
  let valueText = items ? `${value}% — ${items}` : `${value}%`;
  if (stage) valueText = `${value}% overall — ${stage.charAt(0).toLowerCase()}${stage.slice(1)}`;
  return { value, indeterminate: false, animated: false, valueText };
}

/** "Stage 2 of 4: scoring, 220 of 276 items" for a staged run ("" otherwise). */
export function stageItemsText(op, locale) {
  const stage = stageText(op);
  if (!stage) return '';
  const items = itemsText(op, locale);
  return items ? `${stage}, ${items}` : stage;
}

/**
 * "420 of 1,000 items", "420 items" (total unknown) or "" before the first item; a staged
 * run's items in its stage's unit ("220 of 276 curations"), never summed across units.
 */
export function itemsText(op, locale) {
  if (!op) return '';
  const current = Number(op.current_item) || 0;
  const unit = unitText(op);
  if (op.total_items != null) {
    return `${formatCount(current, locale)} of ${formatCount(op.total_items, locale)} ${unit}`;
  }
  return current > 0 ? `${formatCount(current, locale)} ${unit}` : '';
}

/** What a run's items are: its current stage's unit ("curations"), else "items". */
export function unitText(op) {
  const unit = op?.metadata?.stage?.unit;
  return typeof unit === 'string' && unit ? unit : 'items';
}

/** Beside a run page's "x of y": "curations, in stage 3 of 4: score", or "" unstaged. */
export function itemsScopeText(op) {
  const stage = stageText(op);
  return stage ? `${unitText(op)}, in ${stage.charAt(0).toLowerCase()}${stage.slice(1)}` : '';
}

/** "Stage 2 of 3: Import genes" from metadata.stage, or "". */
export function stageText(op) {
  const stage = op?.metadata?.stage;
  if (!stage || typeof stage !== 'object') return '';
  const count = stage.count ?? op.metadata.stages?.length;
  const prefix = count ? `Stage ${stage.index} of ${count}` : `Stage ${stage.index}`;
  return stage.name ? `${prefix}: ${stage.name}` : prefix;
}

/**
 * "120 added · 3 updated · 288 unchanged · 1 failed", leaving out zeros; "No changes" when
 * all are 0. The same words as progress.web.listing.counts_text.
 */
export function countsText(op, locale) {
  const parts = [
    [op?.items_added, 'added'],
    [op?.items_updated, 'updated'],
    [op?.items_unchanged, 'unchanged'],
    [op?.items_skipped, 'skipped'],
    [op?.items_failed, 'failed'],
  ]
    .filter(([n]) => Number(n) > 0)
    .map(([n, word]) => `${formatCount(n, locale)} ${word}`);
  return parts.length ? parts.join(' · ') : 'No changes';
}

/** One line on how a finished run ended; "" while it is active. */
export function resultText(op, locale) {
  switch (op?.status) {
    case 'completed':
      return countsText(op, locale);
    case 'failed':
      return op.error_message || 'The run failed without a message.';
    case 'cancelled': {
      // Name the stage it stopped in, so "70 %" overall and "0 of 276" in that stage agree.
      const stage = stageItemsText(op, locale);
      if (stage) return `Stopped on request in ${stage.charAt(0).toLowerCase()}${stage.slice(1)}`;
      return `Stopped on request${Number(op.current_item) > 0 ? ` after ${itemsText(op, locale)}` : ''}`;
    }
    case 'stalled':
      return op.error_message || 'The run stopped responding.';
    default:
      return '';
  }
}

/** Everything a run card shows, as text. */
export function runModel(op, nowMs, locale) {
  const active = isActive(op);
  const elapsed = elapsedMs(op, nowMs);
  return {
    title: runTitle(op),
    status: runStatusText(op),
    icon: STATUS_ICONS[badgeKey(op)] ?? '',
    // A finished run's stage and ETA are history; its result line says what matters.
    stage: active ? stageText(op) : '',
    items: active ? itemsText(op, locale) : '',
    rate: op.status === 'running' && op.rate != null ? formatRate(op.rate, locale) : '',
    eta: active && op.estimated_completion ? etaText(op, nowMs) : '',
    elapsed: elapsedText(elapsed, active),
    when: whenText(op, nowMs),
    detail: active ? op.current_operation || '' : resultText(op, locale),
    isError: op.status === 'failed' || op.status === 'stalled',
    cancelRequested: Boolean(op.cancel_requested) && active,
    note: lateCancelText(op),
  };
}

// Runs that finish within a second would otherwise read "took 0 s".
const SUB_SECOND_MS = 1000;

function elapsedText(elapsed, active) {
  if (elapsed == null) return '';
  if (active) return formatDuration(elapsed);
  return elapsed < SUB_SECOND_MS ? 'took under 1 s' : `took ${formatDuration(elapsed)}`;
}

function whenText(op, nowMs) {
  if (op.status === 'queued') return `queued ${formatAgo(op.created_at, nowMs)}`.trim();
  if (isActive(op)) return '';
  return formatAgo(op.completed_at ?? op.updated_at, nowMs);
}

/** Text of the connection indicator for a client state (and refusal, or wait reason). */
export function connectionText(state, refusal, waitReason = null) {
  if (state === 'refused' && refusal) return CONNECTION_TEXT[`refused:${refusal}`] ?? CONNECTION_TEXT.refused;
  if (state === 'reconnecting' && waitReason) {
    return CONNECTION_TEXT[`reconnecting:${waitReason}`] ?? CONNECTION_TEXT.reconnecting;
  }
  return CONNECTION_TEXT[state] ?? state;
}

// --- DOM helpers ----------------------------------------------------------------

/** Create an element: h(doc, 'span', {class: 'x', 'data-testid': 'y'}, 'text', child). */
export function h(doc, tag, attrs = {}, ...children) {
  const node = doc.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child == null) continue;
    node.append(typeof child === 'string' ? doc.createTextNode(child) : child);
  }
  return node;
}

/** Set text only when it differs (avoids re-announcing and re-layout). */
export function setText(node, text) {
  if (node && node.textContent !== text) node.textContent = text;
}

/** Set or remove an attribute only when it differs. */
export function setAttr(node, name, value) {
  if (!node) return;
  if (value == null || value === false) {
    if (node.hasAttribute(name)) node.removeAttribute(name);
    return;
  }
  const text = value === true ? '' : String(value);
  if (node.getAttribute(name) !== text) node.setAttribute(name, text);
}

/** Hide a node (and its text) when it has nothing to say. */
export function setHidden(node, hidden) {
  if (node && node.hidden !== hidden) node.hidden = hidden;
}

/** The progress bar element: role=progressbar, filled by updateBar. */
export function createBar(doc, label) {
  return h(
    doc,
    'div',
    {
      class: 'bar',
      role: 'progressbar',
      'aria-valuemin': '0',
      'aria-valuemax': '100',
      'aria-label': label,
      'data-testid': 'progress-bar',
    },
    h(doc, 'div', { class: 'bar__fill' }),
  );
}

/** Bring a bar up to date with a run. */
export function updateBar(bar, op) {
  const model = barModel(op);
  setAttr(bar, 'aria-valuenow', model.value);
  setAttr(bar, 'aria-valuetext', model.valueText);
  setAttr(bar, 'data-status', op.status);
  setAttr(bar, 'data-indeterminate', model.indeterminate ? 'true' : null);
  bar.classList.toggle('is-indeterminate', model.indeterminate);
  bar.classList.toggle('is-animated', model.animated);
  const width = model.value == null ? '' : `${model.value}%`;
  if (bar.style.getPropertyValue('--value') !== width) {
    if (width) bar.style.setProperty('--value', width);
    else bar.style.removeProperty('--value');
  }
}

/** The status badge: an aria-hidden icon plus the visible status word. */
export function createStatusBadge(doc) {
  return h(
    doc,
    'span',
    { class: 'badge' },
    h(doc, 'span', { class: 'badge__icon', 'aria-hidden': 'true' }),
    h(doc, 'span', { class: 'badge__text', 'data-testid': 'status' }),
  );
}

export function updateStatusBadge(badge, op) {
  setAttr(badge, 'data-status', badgeKey(op));
  setText(badge.querySelector('.badge__icon'), STATUS_ICONS[badgeKey(op)] ?? '');
  setText(badge.querySelector('.badge__text'), runStatusText(op));
}

/**
 * A compact card for one run (list rows and <progress-operation>).
 * Returns {root, update(op, nowMs)}; `tag` is 'li' in lists.
 */
export function createRunCard(doc, { tag = 'article', href = detailUrl } = {}) {
  const link = h(doc, 'a', { class: 'run__name' });
  const id = h(doc, 'span', { class: 'run__id' });
  const badge = createStatusBadge(doc);
  const cancelNote = h(doc, 'span', { class: 'run__note', hidden: true, 'data-testid': 'late-cancel' });
  const time = h(doc, 'span', { class: 'run__time', 'data-testid': 'elapsed' });
  const bar = createBar(doc, 'Progress');
  const stage = h(doc, 'span', { 'data-testid': 'stage' });
  const items = h(doc, 'span', { 'data-testid': 'items' });
  const rate = h(doc, 'span', { 'data-testid': 'rate' });
  const eta = h(doc, 'span', { 'data-testid': 'eta' });
  const facts = h(doc, 'p', { class: 'run__facts' }, stage, items, rate, eta);
  const detail = h(doc, 'p', { class: 'run__detail' });
  const root = h(
    doc,
    tag,
    { class: 'run' },
    h(doc, 'div', { class: 'run__head' }, h(doc, 'h3', { class: 'run__title' }, link, ' ', id), badge, cancelNote, time),
    bar,
    facts,
    detail,
  );

  function update(op, nowMs) {
    const model = runModel(op, nowMs);
    const active = isActive(op);
    setAttr(root, 'data-testid', `run-${op.id}`);
    setAttr(root, 'data-status', op.status);
    root.classList.toggle('is-active', active);
    setAttr(link, 'href', href(op.id));
    setText(link, model.title);
    setText(id, `#${op.id}`);
    setAttr(bar, 'aria-label', `Progress of ${model.title} #${op.id}`);
    updateStatusBadge(badge, op);
    // While cancelling, the badge says so; afterwards, a cancel that came too late.
    setText(cancelNote, model.note);
    setHidden(cancelNote, !model.note);
    setText(time, [model.elapsed, model.when].filter(Boolean).join(' · '));
    updateBar(bar, op);
    // Finished runs keep the list calm: no bar, one line of result.
    setHidden(bar, !active);
    for (const [node, text] of [
      [stage, model.stage],
      [items, model.items],
      [rate, model.rate],
      [eta, model.eta],
    ]) {
      setText(node, text);
      setHidden(node, !text);
    }
    setHidden(facts, !(model.stage || model.items || model.rate || model.eta));
    setText(detail, model.detail);
    setHidden(detail, !model.detail);
    setAttr(detail, 'data-testid', model.isError ? 'error-message' : 'detail');
    detail.classList.toggle('is-error', model.isError);
  }

  return { root, update };
}

/**
 * Keep the page's connection indicator (and, when the server refuses us, its alert
 * explaining why) in step with a client. Returns unsubscribe.
 */
export function bindConnectionIndicator(node, client) {
  if (!node) return () => {};
  const doc = node.ownerDocument;
  const alert = doc.querySelector('[data-connection-alert]');
  setHidden(node, false);
  return client.subscribe((_store, _changed, state) => {
    const refusal = state === 'refused' ? client.refusal : null;
    setAttr(node, 'data-connection-state', state);
    setAttr(node, 'data-refusal', refusal);
    const label = node.querySelector('[data-connection-label]') ?? node;
    setAttr(node, 'data-wait-reason', state === 'reconnecting' ? client.waitReason : null);
    setText(label, connectionText(state, client.refusal, client.waitReason));
    if (alert) renderRefusal(doc, alert, refusal);
  });
}

function renderRefusal(doc, alert, refusal) {
  setHidden(alert, !refusal);
  if (!refusal || alert.dataset.refusal === refusal) return;
  alert.dataset.refusal = refusal;
  if (refusal === 'signed-out') {
    const next = encodeURIComponent(doc.location?.pathname ?? '/');
    const href = `${alert.dataset.loginUrl || config.loginUrl}?next=${next}`;
    alert.replaceChildren(
      h(doc, 'p', {}, 'You have been signed out, so updates have stopped. ', h(doc, 'a', { href }, 'Sign in again')),
    );
  } else {
    alert.replaceChildren(h(doc, 'p', {}, 'You are not allowed to follow this live any more; updates have stopped.'));
  }
}

/** Parse a {{ value|json_script:"id" }} block; null when missing or broken. */
export function readJsonScript(doc, id) {
  const node = doc.getElementById(id);
  if (!node) return null;
  try {
    return JSON.parse(node.textContent);
  } catch {
    return null;
  }
}

/**
 * Put `nodes` into `parent` in this order, moving only nodes that are out of place:
 * moving a node that holds focus (a link the user tabbed to) would drop the focus.
 */
export function reorderChildren(parent, nodes) {
  let cursor = parent.firstElementChild;
  for (const node of nodes) {
    if (node === cursor) {
      cursor = cursor.nextElementSibling;
      continue;
    }
    parent.insertBefore(node, cursor);
  }
  while (cursor) {
    const next = cursor.nextElementSibling;
    cursor.remove();
    cursor = next;
  }
}
