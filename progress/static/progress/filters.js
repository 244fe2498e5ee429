// Which runs the list shows, and in what order. Pure, so the rules are tested in Node.

import { isActive, parseTime } from './state.js';

// Finished runs listed under "Recent"; older ones stay in the store but off screen, so a
// page left open all week does not grow without bound.
export const RECENT_LIMIT = 50;

/** {status, name} from a query string or URLSearchParams, trimmed. */
export function readFilters(params) {
  const search = params instanceof URLSearchParams ? params : new URLSearchParams(params ?? '');
  return {
    status: (search.get('status') ?? '').trim(),
    name: (search.get('name') ?? '').trim(),
  };
}

/** The query string for filters ("" when none), for history.replaceState. */
export function filtersQuery({ status = '', name = '' } = {}) {
  const search = new URLSearchParams();
  if (status) search.set('status', status);
  if (name) search.set('name', name);
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** Whether a run passes the filters: exact status, case-insensitive name substring. */
export function matchesFilters(op, { status = '', name = '' } = {}) {
  if (status && op.status !== status) return false;
  if (name && !String(op.operation_name ?? '').toLowerCase().includes(name.toLowerCase())) return false;
  return true;
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
