// Which runs the list shows, and in what order. Pure, so the rules are tested in Node.

import { isActive, parseTime } from './state.js';

// Finished runs listed under "Recent"; older ones stay in the store but off screen, so a
// page left open all week does not grow without bound.
export const RECENT_LIMIT = 50;

// What a "Has failures" checkbox or link may send to mean "on" (as listing.FAILURES_ON).
const FAILURES_ON = new Set(['1', 'on', 'true']);

/** {status, q, failures} from a query string or URLSearchParams ("name" is the old "q"). */
export function readFilters(params) {
  const search = params instanceof URLSearchParams ? params : new URLSearchParams(params ?? '');
  return {
    status: (search.get('status') ?? '').trim(),
    q: (search.get('q') || search.get('name') || '').trim(),
    failures: FAILURES_ON.has((search.get('failures') ?? '').trim()),
  };
}

/** "Has failures": items failed (in any status), or the run failed or stalled. */
export function hasFailures(op) {
  return Number(op?.items_failed) > 0 || op?.status === 'failed' || op?.status === 'stalled';
}

/** The query string for filters ("" when none), for history.replaceState and links. */
export function filtersQuery({ status = '', q = '', name = '', failures = false } = {}, extra = {}) {
  const search = new URLSearchParams();
  if (status) search.set('status', status);
  if (q || name) search.set('q', q || name);
  if (failures) search.set('failures', '1');
  for (const [key, value] of Object.entries(extra)) {
    if (value != null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** The words of a search that count (lone separators such as "→" match nothing). */
export function searchWords(text) {
  return String(text ?? '')
    .toLowerCase()
    .split(/\s+/)
    .filter((word) => word && !/^[—–\-→,·:;#]+$/.test(word));
}

/**
 * Whether a run passes the filters: exact status; failures (hasFailures); every word of q somewhere in its name,
 * description (what it read, its scope, its owner) or "#id"; `name` (older pages) is a
 * case-insensitive substring of the operation name.
 */
export function matchesFilters(op, { status = '', q = '', name = '', failures = false } = {}, description = '') {
  if (status && op.status !== status) return false;
  if (failures && !hasFailures(op)) return false;
  if (name && !String(op.operation_name ?? '').toLowerCase().includes(name.toLowerCase())) return false;
  if (!q) return true;
  const haystack = `${op.operation_name ?? ''} ${op.title ?? ''} ${description ?? ''} #${op.id}`.toLowerCase();
  return searchWords(q).every((word) => haystack.includes(word));
}

/**
 * Split runs into {active, recent}: active newest first (by creation); recent newest
 * finished first, at most `limit`.
 */
export function partitionRuns(ops, filters = {}, { limit = RECENT_LIMIT } = {}) {
  const shown = ops.filter((op) => matchesFilters(op, filters));
  const newest = (time) => (a, b) => (time(b) ?? 0) - (time(a) ?? 0) || b.id - a.id;
  const active = shown.filter(isActive).sort(newest((op) => parseTime(op.created_at)));
  const recent = shown
    .filter((op) => !isActive(op))
    .sort(newest((op) => parseTime(op.completed_at) ?? parseTime(op.updated_at)))
    .slice(0, limit);
  return { active, recent };
}
