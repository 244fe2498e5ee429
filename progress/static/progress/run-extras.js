// Pure helpers for a run's page beyond the bar: the tab title, the throughput curve from
// the run's stored history, and the bounded, deduplicated log tail. No DOM here.

import { formatAgo, formatCount, formatDuration, formatPercent, formatValue, humanizeKey, parseTime, runStatusText, runTitle, statusLabel } from './format.js';
import { isActive } from './state.js';

const FINAL_MARKS = Object.freeze({ completed: '✓', completed_with_failures: '⚠', failed: '✗' });

/**
 * The tab title: "[42%] gene_import #12", "✓ gene_import #12", "⚠ Completed with 5 failures:
 * gene_import #12", "Cancelled gene_import #12".
 */
export function titleText(op, suffix = '') {
  if (!op) return suffix.replace(/^ · /, '') || 'Progress';
  const name = `${runTitle(op)} #${op.id}`;
  let prefix;
  if (isActive(op)) {
    const percent = formatPercent(op.progress_percentage);
    prefix = percent ? `[${percent}]` : `[${statusLabel(op.status)}]`;
  } else {
    const key = op.outcome || op.status;
    prefix = key === 'completed_with_failures' ? `${FINAL_MARKS[key]} ${runStatusText(op)}:` : FINAL_MARKS[key] ?? statusLabel(op.status);
  }
  return `${prefix} ${name}${suffix}`;
}

/**
 * Chart samples [{t, v}] (t in ms, v items/s) from the history API's samples
 * [[elapsed_s, item, pct], ...] of a run that started at startedMs. The rate is the
 * items between neighbouring samples over their time; an item count that went down
 * (a new stage restarting its count) counts from 0. A count back at 0 is a stage or file
 * just starting: it makes no point, so the curve does not drop to zero between files.
 */
export function historyRateSamples(samples, startedMs) {
  if (!Array.isArray(samples) || startedMs == null || !Number.isFinite(startedMs)) return [];
  const out = [];
  let previous = null;
  for (const sample of samples) {
    if (!Array.isArray(sample)) continue;
    const elapsed = Number(sample[0]);
    const item = Number(sample[1]);
    if (!Number.isFinite(elapsed) || !Number.isFinite(item)) continue;
    const restartedAtZero = previous != null && item === 0 && previous.item > 0;
    if (previous != null && elapsed > previous.elapsed && !restartedAtZero) {
      const delta = item >= previous.item ? item - previous.item : item;
      out.push({ t: startedMs + elapsed * 1000, v: delta / (elapsed - previous.elapsed) });
    }
    if (previous == null || elapsed > previous.elapsed) previous = { elapsed, item };
  }
  return out;
}

/** The history samples followed by live ones newer than the last of them. */
export function mergeSamples(history, live) {
  const last = history[history.length - 1];
  if (!last) return live;
  return [...history, ...live.filter((s) => s.t > last.t)];
}

// --- log tail ----------------------------------------------------------------------

export const LOG_LIMIT = 1000;
export const LEVELS = Object.freeze({ DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40, CRITICAL: 50 });

/** The numeric level of a line ("WARNING" -> 30); unknown names count as INFO. */
export function levelNumber(level) {
  if (typeof level === 'number') return level;
  return LEVELS[String(level ?? '').toUpperCase()] ?? LEVELS.INFO;
}

/** Whether a line passes a minimum level ('' or null = every line). */
export function passesLevel(line, minLevel) {
  if (!minLevel) return true;
  return levelNumber(line?.level) >= levelNumber(minLevel);
}

/**
 * The log lines held for a page: ordered by number, each number once, at most `limit`
 * (the newest). add() returns what changed so the view can append instead of redraw.
 */
export class LogBuffer {
  constructor(limit = LOG_LIMIT) {
    this.limit = limit;
    this.lines = [];
  }

  get lastNumber() {
    return this.lines.length ? this.lines[this.lines.length - 1].number : 0;
  }

  /**
   * Add lines (any order, duplicates ignored). Returns {appended, removed, reordered}:
   * appended are the new lines when they all came after the held ones (in order),
   * removed how many of the oldest were dropped; reordered is true when a new line fell
   * among held ones, and then the view should draw this.lines again.
   */
  add(lines) {
    const held = new Set(this.lines.map((l) => l.number));
    const fresh = [];
    for (const line of Array.isArray(lines) ? lines : []) {
      const number = Number(line?.number);
      if (!Number.isInteger(number) || held.has(number)) continue;
      held.add(number);
      fresh.push({ ...line, number });
    }
    if (fresh.length === 0) return { appended: [], removed: 0, reordered: false };
    fresh.sort((a, b) => a.number - b.number);
    const reordered = fresh[0].number < this.lastNumber;
    let all = reordered ? [...this.lines, ...fresh].sort((a, b) => a.number - b.number) : [...this.lines, ...fresh];
    const removed = Math.max(0, all.length - this.limit);
    if (removed) all = all.slice(removed);
    this.lines = all;
    const appended = reordered ? [] : fresh.slice(Math.max(0, fresh.length - all.length));
    return { appended, removed, reordered };
  }

  /** The held lines at or above minLevel. */
  filtered(minLevel) {
    return this.lines.filter((line) => passesLevel(line, minLevel));
  }
}

/** "12:03:04" in the reader's time zone, or '' for no time. */
export function logTime(iso) {
  const ms = parseTime(iso);
  if (ms == null) return '';
  return new Date(ms).toLocaleTimeString(undefined, { hour12: false });
}

// --- silence, times, settings, failures ---------------------------------------------

/** "No update for 8 s": how long the connection has been silent. */
export function silenceText(ms) {
  return `No update for ${formatDuration(Math.max(0, ms))}`;
}

// Under this many seconds "Last update" says "just now"; above it, it counts seconds.
const JUST_NOW_S = 3;

/** "just now", "12 s ago", then formatAgo's minutes, hours and days; '' if unknown. */
export function sinceText(iso, nowMs) {
  const then = parseTime(iso);
  if (then == null) return '';
  const seconds = Math.max(0, Math.floor((nowMs - then) / 1000));
  if (seconds < JUST_NOW_S) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  return formatAgo(iso, nowMs);
}

/** True when a running run's ETA comes from past runs (metadata.eta_source). */
export function etaFromHistory(op) {
  return isActive(op) && op?.metadata?.eta_source === 'history' && op?.estimated_completion != null;
}

/**
 * The run's settings as [{name, label, value}] for a "Settings" list: its stored
 * parameters, labelled by the pipeline's description when known. An uploaded file shows
 * the name the user gave it (metadata.files), never its storage name.
 */
export function settingsEntries(parameters, { files = [], pipeline = null } = {}) {
  if (!parameters || typeof parameters !== 'object' || Array.isArray(parameters)) return [];
  const described = new Map((pipeline?.parameters ?? []).map((p) => [p?.name, p]));
  const labels = new Map(
    (Array.isArray(files) ? files : []).filter((f) => f && typeof f === 'object').map((f) => [f.name, f.label]),
  );
  return Object.entries(parameters).map(([name, value]) => {
    const description = described.get(name);
    const label = description?.label || humanizeKey(name);
    const isFile = description?.type === 'file' || labels.has(value);
    const shown = isFile ? labels.get(value) || 'an uploaded file' : formatValue(value);
    return { name, label, value: String(shown), isFile };
  });
}

/**
 * The list page's start form for this pipeline, prefilled with the run's parameters:
 * /progress/?start=gene_import&scope=kidney&format=auto#start-gene_import. Files are
 * left out (a file input cannot be prefilled: same settings, new file).
 */
export function rerunUrl(listUrl, pipelineName, parameters, { pipeline = null } = {}) {
  const query = new URLSearchParams({ start: pipelineName });
  const fileParams = new Set((pipeline?.parameters ?? []).filter((p) => p?.type === 'file').map((p) => p.name));
  for (const [name, value] of Object.entries(parameters ?? {})) {
    if (fileParams.has(name) || value == null || typeof value === 'object') continue;
    query.set(name, String(value));
  }
  return `${listUrl}?${query}#start-${pipelineName}`;
}

// Failed rows shown before "Show all"; more make a phone page thousands of pixels tall.
export const ROW_ERRORS_VISIBLE = 10;

/**
 * Which failed rows to show: while a run runs the newest (the end of the stored list),
 * once it ended the first; all of them when expanded. Returns {rows, note, more}.
 */
export function rowErrorsView(rows, total, { active = false, expanded = false, visible = ROW_ERRORS_VISIBLE } = {}) {
  const list = Array.isArray(rows) ? rows : [];
  const all = Number.isFinite(total) ? Math.max(total, list.length) : list.length;
  const shown = expanded || list.length <= visible ? list : active ? list.slice(-visible) : list.slice(0, visible);
  const noun = all === 1 ? 'failure' : 'failures';
  let note;
  if (shown.length === all) note = `${formatCount(all)} row ${noun}.`;
  else if (active && shown.length < list.length) note = `Showing the newest ${formatCount(shown.length)} of ${formatCount(all)} row ${noun}.`;
  else note = `Showing ${formatCount(shown.length)} of ${formatCount(all)} row ${noun}.`;
  if (list.length < all && shown.length === list.length) note += ` The first ${formatCount(list.length)} are kept; the report has every one.`;
  return { rows: shown, note, more: list.length > visible };
}

/** A finished span of time; "under 1 s" rather than "0 s" for quick runs and stages. */
export function spanText(ms) {
  return ms < 1000 ? 'under 1 s' : formatDuration(ms);
}
