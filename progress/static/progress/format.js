// Human-readable text for counts, durations, rates and times.
// Pure functions: no DOM and no hidden clock, so every caller (and test) passes "now".

import { config } from './config.js';

const SECOND_MS = 1000;
const MINUTE_S = 60;
const HOUR_S = 60 * MINUTE_S;
const DAY_S = 24 * HOUR_S;

// Below this many seconds an ETA is rounded to 5 s steps: a countdown that jumps by
// one second each tick reads as false precision for a smoothed estimate.
const ETA_ROUND_S = 5;

// Rates below one item per second read better per minute (or per hour) than as "0.02/s".
const SLOW_RATE_PER_S = 1;
// Under this many items/s one decimal place still carries information.
const ONE_DECIMAL_RATE_PER_S = 10;

export const STATUS_LABELS = Object.freeze(Object.fromEntries(config.statuses.map((s) => [s.value, s.label])));

/** A run's name for people: its pipeline's title from the server, else operation_name. */
export function runTitle(op) {
  return op?.title || op?.operation_name || 'Run';
}

/** Visible text for a status ("running" -> "Running"); unknown values are capitalised. */
export function statusLabel(status) {
  if (typeof status !== 'string' || status === '') return 'Unknown';
  return STATUS_LABELS[status] ?? status.charAt(0).toUpperCase() + status.slice(1);
}

/**
 * The words a run's badge shows: "Cancelling…" once a cancel was asked for, "Completed with
 * 5 failures" when items failed (outcome completed_with_failures), else the status label.
 * The same rule as OperationProgress.status_text.
 */
export function runStatusText(op) {
  if (isActiveStatus(op?.status) && op?.cancel_requested) return config.cancellingText;
  if (op?.outcome === 'completed_with_failures') {
    const n = Number(op.items_failed) || 0;
    return `Completed with ${formatCount(n)} failure${n === 1 ? '' : 's'}`;
  }
  return statusLabel(op?.status);
}

/** What the badge's colour and icon follow: the outcome of a finished run, else its status. */
export function badgeKey(op) {
  return op?.outcome || op?.status || '';
}

/** "Finished before your cancel arrived" for a run that ended another way after a cancel; else "". */
export function lateCancelText(op) {
  const late = op?.cancel_requested && !isActiveStatus(op?.status) && op?.status !== 'cancelled';
  return late ? config.lateCancelText : '';
}

/** Milliseconds since the epoch for an ISO datetime, or null for null/garbage. */
export function parseTime(iso) {
  if (iso == null || iso === '') return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

/** A whole number with the locale's grouping ("1,234"); "—" when there is no number. */
export function formatCount(value, locale) {
  const n = Number(value);
  if (value == null || value === '' || !Number.isFinite(n)) return '—';
  return n.toLocaleString(locale);
}

/**
 * Integer percentage for a bar, rounded down so a run never shows 100 % before it is
 * done; null stays null (indeterminate, which is not the same as 0 %).
 */
export function percentValue(percentage) {
  if (percentage == null || percentage === '') return null;
  const n = Number(percentage);
  if (!Number.isFinite(n)) return null;
  return Math.min(100, Math.max(0, Math.floor(n)));
}

/** "42%" or "" when indeterminate. */
export function formatPercent(percentage) {
  const value = percentValue(percentage);
  return value == null ? '' : `${value}%`;
}

/** A duration in ms as "42 s", "4 min 5 s", "1 h 2 min" or "3 d 4 h"; "—" if unknown. */
export function formatDuration(ms) {
  if (ms == null || !Number.isFinite(ms)) return '—';
  const total = Math.max(0, Math.floor(ms / SECOND_MS));
  if (total < MINUTE_S) return `${total} s`;
  if (total < HOUR_S) return joinUnits(Math.floor(total / MINUTE_S), 'min', total % MINUTE_S, 's');
  if (total < DAY_S) {
    return joinUnits(Math.floor(total / HOUR_S), 'h', Math.floor((total % HOUR_S) / MINUTE_S), 'min');
  }
  return joinUnits(Math.floor(total / DAY_S), 'd', Math.floor((total % DAY_S) / HOUR_S), 'h');
}

function joinUnits(big, bigUnit, small, smallUnit) {
  return small ? `${big} ${bigUnit} ${small} ${smallUnit}` : `${big} ${bigUnit}`;
}

/** Smoothed items/s as "42 items/s", "4.2 items/s", "12 items/min"; "—" when unknown. */
export function formatRate(rate, locale) {
  const n = Number(rate);
  if (rate == null || rate === '' || !Number.isFinite(n) || n < 0) return '—';
  if (n === 0) return '0 items/s';
  if (n < SLOW_RATE_PER_S) {
    const perMinute = n * MINUTE_S;
    if (perMinute >= 1) return `${Math.round(perMinute).toLocaleString(locale)} items/min`;
    return `${Math.max(1, Math.round(n * HOUR_S)).toLocaleString(locale)} items/h`;
  }
  const digits = n < ONE_DECIMAL_RATE_PER_S ? 1 : 0;
  const text = n.toLocaleString(locale, { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return `${text} items/s`;
}

/** How long a run has been (or was) going, in ms; null before it started. */
export function elapsedMs(op, nowMs) {
  const start = parseTime(op?.started_at);
  if (start == null) return null;
  const end = parseTime(op.completed_at) ?? (isActiveStatus(op.status) ? nowMs : parseTime(op.updated_at));
  // Clamp: the browser's clock may be behind the server's.
  return end == null ? null : Math.max(0, end - start);
}

/** Remaining time as a sentence fragment: "About 2 min left", "Estimating…", "" if final. */
export function etaText(op, nowMs) {
  if (!op || !isActiveStatus(op.status)) return '';
  if (op.status === 'queued') return 'Waiting to start';
  const eta = parseTime(op.estimated_completion);
  if (eta == null) return op.progress_percentage == null ? 'Unknown' : 'Estimating…';
  const remaining = eta - nowMs;
  if (remaining <= SECOND_MS) return 'Almost done';
  return `About ${approximateDuration(remaining)} left`;
}

/** A remaining time without false precision: 5 s steps, then minutes, then h + min. */
export function approximateDuration(ms) {
  const seconds = Math.max(0, ms / SECOND_MS);
  if (seconds < MINUTE_S) return `${Math.max(ETA_ROUND_S, Math.round(seconds / ETA_ROUND_S) * ETA_ROUND_S)} s`;
  if (seconds < HOUR_S) return `${Math.round(seconds / MINUTE_S)} min`;
  return formatDuration(Math.round(seconds / MINUTE_S) * MINUTE_S * SECOND_MS);
}

/** "just now", "3 min ago", "2 h ago", "4 d ago" relative to nowMs; "" when unknown. */
export function formatAgo(iso, nowMs) {
  const then = parseTime(iso);
  if (then == null) return '';
  const seconds = Math.max(0, Math.floor((nowMs - then) / SECOND_MS));
  if (seconds < 45) return 'just now';
  if (seconds < HOUR_S) return `${Math.max(1, Math.round(seconds / MINUTE_S))} min ago`;
  if (seconds < DAY_S) return `${Math.floor(seconds / HOUR_S)} h ago`;
  return `${Math.floor(seconds / DAY_S)} d ago`;
}

/** A datetime in the reader's locale and time zone ("Mar 3, 2025, 14:05"); "" if unknown. */
export function formatDateTime(iso, locale) {
  const ms = parseTime(iso);
  if (ms == null) return '';
  return new Date(ms).toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'short' });
}

/** A datetime with seconds ("Mar 3, 2025, 14:05:09"), for timelines of short runs; "" if unknown. */
export function formatDateTimeSeconds(iso, locale) {
  const ms = parseTime(iso);
  if (ms == null) return '';
  return new Date(ms).toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'medium' });
}

/** "genes_added" -> "Genes added", for summary keys written by pipelines. */
export function humanizeKey(key) {
  const words = String(key).replace(/[_-]+/g, ' ').replace(/([a-z])([A-Z])/g, '$1 $2').trim();
  if (!words) return '';
  return words.charAt(0).toUpperCase() + words.slice(1).toLowerCase();
}

// Summaries often carry timestamps as ISO strings; they read better localised.
const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

/**
 * Text for one summary value: numbers grouped, ISO datetimes localised, lists joined,
 * objects as "key: value" pairs (a tally such as {"Definitive": 36, "Limited": 131}).
 */
export function formatValue(value, locale) {
  if (value == null || value === '') return '—';
  if (typeof value === 'number') return formatCount(value, locale);
  if (typeof value === 'boolean') return value ? 'Yes' : 'No';
  if (Array.isArray(value)) return value.map((v) => formatValue(v, locale)).join(', ');
  if (typeof value === 'object') {
    return Object.entries(value)
      .map(([key, inner]) => `${key}: ${formatValue(inner, locale)}`)
      .join(' · ');
  }
  if (typeof value === 'string' && ISO_DATETIME.test(value) && parseTime(value) != null) {
    return formatDateTime(value, locale);
  }
  return String(value);
}

function isActiveStatus(status) {
  return status === 'queued' || status === 'running';
}
