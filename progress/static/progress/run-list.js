// The list page's rules, as pure functions tested in Node: what each run is called, which
// runs a page shows, how usual a run's duration is, and how a refused start is shown.

import { isActive } from './state.js';
import { formatDuration, runTitle } from './format.js';
import { matchesFilters, RECENT_LIMIT } from './filters.js';

// A run is "slower than usual" when its rate is below its operation's typical rate divided
// by this (progress/runtime/history.py SLOW_FACTOR; the page passes the server's value).
export const SLOW_FACTOR = 2;
const SECOND_MS = 1000;

/** localStorage key the run page reads to turn its "notify me" on for a run started here. */
export function notifyKey(id) {
  return `progress-notify:${id}`;
}

/**
 * What a run was asked to do, built from a live frame when the page has no description
 * from the server (a run that started after the page loaded): the pipeline's title, the
 * files it reads and, for the reader's own runs, "by <name>". Frames carry no parameters,
 * so the server's description (with the scope) is preferred whenever there is one.
 */
export function describeRun(op, { titles = {}, user = null } = {}) {
  const meta = op?.metadata && typeof op.metadata === 'object' ? op.metadata : {};
  // A run may carry its description (stored when it was created); it is the server's own.
  if (typeof meta.description === 'string' && meta.description) return meta.description;
  const name = String(meta.pipeline || op?.operation_name || 'run');
  const title = titles[name] || humanize(name);
  const labels = (Array.isArray(meta.files) ? meta.files : [])
    .filter((entry) => entry && entry.kind === 'upload' && entry.label)
    .map((entry) => String(entry.label));
  const text = labels.length ? `${title} — ${labels.join(', ')}` : title;
  const owner = user && op?.created_by != null && op.created_by === user.id ? user.name : '';
  return owner ? `${text}, by ${owner}` : text;
}

/**
 * The run link's accessible name: "Import genes #12 — big.csv → kidney, by ann"; a
 * description that starts with the title (every pipeline run's does) is not told twice.
 * Server twin: listing.run_label.
 */
export function runLabel(op, description) {
  const title = runTitle(op);
  const base = `${title} #${op.id}`;
  if (description && (description === title || description.startsWith(`${title} `))) {
    return base + description.slice(title.length);
  }
  return description ? `${base}: ${description}` : base;
}

/**
 * How an active run compares with its operation's usual runs: {text, slow}. usual is
 * {seconds, rate} (typical duration, typical items/s). text ("Usually 2 min") is "" for a
 * finished run or without a usual duration; slow is true while the run's rate is below the
 * usual rate divided by factor: rates, not durations, so a big run is not slow for its size
 * (the same rule as history.is_much_slower).
 */
export function usualModel(op, { seconds, rate } = {}, factor = SLOW_FACTOR) {
  // Finished runs say how long they took; the usual time matters while one runs.
  if (!isActive(op)) return { text: '', slow: false };
  const text = seconds > 0 ? `Usually ${formatUsual(seconds)}` : '';
  const current = op.rate == null || op.rate === '' ? NaN : Number(op.rate);
  const slow = Number.isFinite(current) && rate > 0 && current * factor < rate;
  return { text, slow };
}

function formatUsual(seconds) {
  return seconds < 1 ? 'under 1 s' : formatDuration(seconds * SECOND_MS);
}

/**
 * The runs a page shows, {active, recent, lowest, cut}, newest (highest id) first.
 *
 * page: {firstPage, floor, ceiling, serverIds: Set, serverFilters}. Runs the server listed
 * for these filters always show (while their status still matches); others show when they
 * match and fall inside the page's window of ids: on the first page anything newer than the
 * oldest run it lists, on an older page only between its oldest and newest. Active runs
 * have their own group on the first page only. recent is cut at limit; lowest is the id
 * of the oldest shown (the "Older runs" link pages on from it).
 */
export function pageGroups(ops, { filters, page, describe = () => '', limit = RECENT_LIMIT }) {
  const sameSearch = (filters.q ?? '') === (page.serverFilters?.q ?? '');
  const shows = (op) => {
    if (!matchesFilters(op, { status: filters.status, failures: filters.failures }, '')) return false;
    if (page.serverIds.has(op.id) && sameSearch) return true;
    if (!matchesFilters(op, { q: filters.q }, describe(op))) return false;
    if (page.serverIds.has(op.id)) return true;
    if (isActive(op)) return page.firstPage;
    return op.id >= (page.floor ?? 0) && (page.firstPage || op.id <= (page.ceiling ?? Infinity));
  };
  const byId = (a, b) => b.id - a.id;
  const shown = ops.filter(shows);
  const active = page.firstPage ? shown.filter(isActive).sort(byId) : [];
  const finished = shown.filter((op) => !isActive(op)).sort(byId);
  const recent = finished.slice(0, limit);
  return {
    active,
    recent,
    lowest: recent.length ? recent[recent.length - 1].id : null,
    cut: finished.length > recent.length,
  };
}

/**
 * A refused start's answer as {fields: {name: text}, form: text}: errors for fields the
 * form has go beside them, the rest (and the message, if nothing else) above the form.
 */
export function startErrors(body, fieldNames, status) {
  const fields = {};
  const form = [];
  const errors = body && typeof body.errors === 'object' && body.errors ? body.errors : {};
  for (const [name, value] of Object.entries(errors)) {
    const text = Array.isArray(value) ? value.join(' ') : String(value);
    if (fieldNames.includes(name)) fields[name] = text;
    else form.push(text);
  }
  if (Array.isArray(body?.form_errors)) form.push(...body.form_errors.map(String));
  if (!form.length && !Object.keys(fields).length) {
    form.push(body?.message ? String(body.message) : `The server answered ${status}; try again.`);
  }
  return { fields, form: form.join(' ') };
}

/** The note under a field that offers suggestions, for a value that is not one of them. */
export function newValueNote(value, suggestions, template) {
  const text = String(value ?? '').trim();
  if (!text || !template || suggestions.length === 0 || suggestions.includes(text)) return '';
  return template.replace('%s', text);
}

/**
 * The URL that searches a field's values beyond the suggestions the page lists; '' when
 * there is no search URL or nothing typed (the page's own suggestions stand).
 */
export function suggestionSearchUrl(base, value) {
  const text = String(value ?? '').trim();
  if (!base || !text) return '';
  return `${base}${base.includes('?') ? '&' : '?'}search=${encodeURIComponent(text)}`;
}

function humanize(name) {
  const text = String(name).replaceAll('_', ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}
