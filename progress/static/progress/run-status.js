// The run's status as it moves: badge and status line, stage k of n with the stage list,
// the clocks (elapsed, ETA, last update), and the greyed-out page when no frame arrives.

import { CONNECTION_STATES } from './client.js';
import { setAttr, setHidden, setText, stageItemsText, stageText, STATUS_ICONS } from './render.js';
import { etaFromHistory, silenceText, sinceText, spanText } from './run-extras.js';
import {
  badgeKey,
  elapsedMs,
  etaText,
  formatDateTime,
  formatDuration,
  formatPercent,
  isActive,
  lateCancelText,
  runStatusText,
  SILENCE_MS,
} from './state.js';

/**
 * How long no frame has arrived, when that means the page may be stale: the socket is
 * silent or refused, or it dropped and has not been back for SILENCE_MS; else 0.
 */
export function quietForMs({ state, lastFrameAt }, now) {
  if (lastFrameAt == null) return 0;
  // Signed out (or refused): nothing more will arrive on this page.
  if (state === CONNECTION_STATES.SILENT || state === CONNECTION_STATES.REFUSED) return Math.max(0, now - lastFrameAt);
  const away = state === CONNECTION_STATES.RECONNECTING || state === CONNECTION_STATES.OFFLINE;
  return away && now - lastFrameAt >= SILENCE_MS ? now - lastFrameAt : 0;
}

/** Why no frame arrives, for the silence notice. */
export function silenceReason(state, refusal) {
  if (state === CONNECTION_STATES.REFUSED) return refusal === 'signed-out' ? 'You are signed out' : 'The server refused this page';
  return state === CONNECTION_STATES.SILENT ? 'The server has gone quiet' : 'Reconnecting';
}

/** Each stage's state in the list: done, current (1-based `current`) or still to do. */
export function stageStates(count, current, completed) {
  return Array.from({ length: count }, (_, i) =>
    completed || i + 1 < current ? 'done' : i + 1 === current ? 'current' : 'todo',
  );
}

/** The stage line: "Stage 2 of 3: import, 40 of 100 (40% of this stage)" while running. */
export function stageLine(op) {
  const text = isActive(op) ? stageItemsText(op) : stageText(op);
  const percent = op.metadata?.stage_percentage;
  return text && percent != null && isActive(op) ? `${text} (${formatPercent(percent)} of this stage)` : text;
}

/** Binds the status parts under `part`; the page calls each render with the run. */
export function createStatusView({ doc, root, part, client, operationId, initial, cancelConfirm, announce }) {
  let lastRenderedStatus = initial?.status ?? null;
  const quiet = (now) => quietForMs(client, now);

  function renderStatus(op) {
    const badge = part('badge');
    setAttr(badge, 'data-status', badgeKey(op));
    setText(badge.querySelector('.badge__icon'), STATUS_ICONS[badgeKey(op)] ?? '');
    setText(part('status'), runStatusText(op));
    if (lastRenderedStatus !== op.status) {
      if (lastRenderedStatus !== null) announce(`Run ${runStatusText(op).toLowerCase()}.`);
      lastRenderedStatus = op.status;
    }
    const active = isActive(op);
    // While cancelling, the badge says so; a cancel that came after the end says that.
    const note = lateCancelText(op);
    setText(part('cancel-note'), note);
    setHidden(part('cancel-note'), !note);
    // A finished run cannot be cancelled: the form goes away for good.
    const form = part('cancel-form');
    if (form) setHidden(form, !active);
    // "Run again with the same file" once the run has ended (the server offers it or not).
    const rerun = part('rerun-form');
    if (rerun) setHidden(rerun, active);
    const button = part('cancel-button');
    if (button && active && op.cancel_requested) {
      cancelConfirm.reset();
      button.disabled = true;
      setText(button, 'Cancelling…');
    } else if (button && active && client.state === CONNECTION_STATES.REFUSED) {
      // Signed out: a cancel would be refused; the alert says to sign in again.
      cancelConfirm.reset();
      button.disabled = true;
    }
  }

  function renderStage(op) {
    const stage = part('stage');
    const text = stageLine(op);
    setText(stage, text);
    setHidden(stage, !text);

    // The stage list: done ✓, current, still to come.
    const names = Array.isArray(op.metadata?.stages) ? op.metadata.stages : [];
    const list = part('stages');
    setHidden(list, names.length < 2);
    const states = stageStates(names.length, op.metadata?.stage?.index ?? 0, op.status === 'completed');
    if (list.children.length !== names.length) list.replaceChildren(...names.map(() => doc.createElement('li')));
    names.forEach((name, i) => {
      const item = list.children[i];
      setAttr(item, 'data-state', states[i]);
      setAttr(item, 'aria-current', states[i] === 'current' ? 'step' : null);
      setText(item, String(name));
    });
  }

  /**
   * Times that move with the clock: elapsed, ETA, last update. While the connection is
   * silent they stop where the last frame left them: a countdown that keeps running on
   * a stalled server is the false liveness issue 17 is about.
   */
  function renderClock(op) {
    const realNow = Date.now();
    const now = quiet(realNow) > 0 ? client.lastFrameAt : realNow;
    const elapsed = elapsedMs(op, now);
    setText(part('elapsed'), elapsed == null ? '—' : isActive(op) ? formatDuration(elapsed) : spanText(elapsed));
    setText(part('eta'), isActive(op) ? etaText(op, now) || '—' : '—');
    const eta = part('eta');
    setAttr(eta, 'title', op.estimated_completion && isActive(op) ? `Expected ${formatDateTime(op.estimated_completion)}` : null);
    setHidden(part('eta-source'), !etaFromHistory(op));
    setText(part('last-update'), sinceText(op.updated_at, realNow) || '—');
  }

  /** Grey out a live run and count the silence while no frame arrives. */
  function renderSilence(now = Date.now()) {
    const op = client.getOperation(operationId);
    const quietMs = op != null && isActive(op) ? quiet(now) : 0;
    setAttr(root, 'data-silent', quietMs > 0 ? 'true' : null);
    const notice = part('silence');
    setHidden(notice, quietMs === 0);
    if (quietMs === 0) return;
    setText(notice, `${silenceText(quietMs)}. ${silenceReason(client.state, client.refusal)}; what this page shows may be out of date.`);
  }

  return { renderStatus, renderStage, renderClock, renderSilence };
}
