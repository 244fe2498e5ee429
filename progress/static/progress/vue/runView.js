// What <ProgressBar> shows for one run, as plain data. Pure (no Vue), built from the same
// helpers as the runs page (render.js, format.js), so both say the same things.

import { barModel, detailUrl, itemsText, resultText, stageText, STATUS_ICONS } from '../render.js';
import {
  badgeKey,
  elapsedMs,
  etaText,
  formatCount,
  formatDuration,
  formatPercent,
  formatRate,
  isActive,
  lateCancelText,
  runStatusText,
} from '../state.js';

// Below this a finished run "took under 1 s" instead of "took 0 s".
const SUB_SECOND_MS = 1000;

/** {text, value} for a count: text grouped for the reader, value the raw number. */
function count(value, locale) {
  const n = Number(value);
  return { text: formatCount(value, locale), value: value == null || !Number.isFinite(n) ? null : n };
}

/**
 * The view of one run at `nowMs`.
 * `detail` is the line under the bar: the current step while active, the error of a
 * failed or stalled run (`isError`), how a completed or cancelled run ended otherwise.
 */
export function runView(op, nowMs, { locale, href = detailUrl } = {}) {
  const active = isActive(op);
  const title = op.operation_name || 'Run';
  const bar = barModel(op);
  const isError = op.status === 'failed' || op.status === 'stalled';
  const hasItems = op.total_items != null || Number(op.current_item) > 0;
  const elapsed = elapsedMs(op, nowMs);
  let detail = '';
  if (active) detail = op.current_operation || '';
  else if (isError) detail = op.error_message || resultText(op, locale);
  // A completed run's result is its counts, which the counts line already shows.
  else if (op.status !== 'completed') detail = resultText(op, locale);

  return {
    id: op.id,
    title,
    href: href ? href(op.id) : null,
    status: badgeKey(op),
    statusText: runStatusText(op),
    icon: STATUS_ICONS[badgeKey(op)] ?? '',
    active,
    cancelRequested: Boolean(op.cancel_requested) && active,
    // While cancelling, the status says so; afterwards, a cancel that came too late.
    note: lateCancelText(op),
    bar: { ...bar, label: `Progress of ${title} #${op.id}` },
    percent: formatPercent(op.progress_percentage),
    items: hasItems
      ? {
          current: count(Number(op.current_item) || 0, locale),
          total: op.total_items == null ? null : count(op.total_items, locale),
          text: itemsText(op, locale),
        }
      : null,
    // Counts while a run is going matter as much as at its end; a queued run has none.
    counts:
      op.status === 'queued'
        ? null
        : {
            added: count(op.items_added ?? 0, locale),
            updated: count(op.items_updated ?? 0, locale),
            unchanged: count(op.items_unchanged ?? 0, locale),
            skipped: count(op.items_skipped ?? 0, locale),
            failed: count(op.items_failed ?? 0, locale),
          },
    // A finished run's stage, rate and ETA are history; its detail line says what matters.
    stage: active ? stageText(op) : '',
    rate: op.status === 'running' && op.rate != null ? formatRate(op.rate, locale) : '',
    eta: active ? etaText(op, nowMs) : '',
    elapsed: elapsed == null ? '' : active ? formatDuration(elapsed) : elapsed < SUB_SECOND_MS ? 'took under 1 s' : `took ${formatDuration(elapsed)}`,
    detail,
    isError,
  };
}
