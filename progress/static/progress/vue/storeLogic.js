// The progress store's rules as plain functions over plain objects: no Vue, no Pinia,
// no socket. store.js wires them to Pinia; Node's test runner checks them directly.

import { partitionRuns } from '../filters.js';
import { isActive, parseTime } from '../state.js';

// A run id as the server sends it: a positive integer, or its decimal text ("42").
const ID_TEXT = /^\d+$/;

/** The numeric id `value` names, or null when it is a name (or nothing). */
export function idOf(value) {
  if (typeof value === 'number') return Number.isInteger(value) ? value : null;
  if (typeof value === 'string' && ID_TEXT.test(value.trim())) return Number(value.trim());
  return null;
}

/**
 * Copy the runs a ProgressClient reports as changed from its frozen store into `target`
 * (the store's reactive `operations`), key by key, so a view that reads one run is only
 * re-rendered when that run changes. A run is replaced only by a greater seq, the same
 * rule as the client's, so a store reconnected with a new client never steps back.
 * Returns the ids that were written.
 */
export function copyChanges(target, source, changedIds) {
  const written = [];
  for (const id of changedIds) {
    const key = String(id);
    const incoming = source[key];
    if (incoming == null) continue; // the client never drops runs; nothing to copy
    const held = target[key];
    if (held === incoming || (held != null && held.seq >= incoming.seq)) continue;
    target[key] = incoming;
    written.push(incoming.id);
  }
  return written;
}

/**
 * A run by id (number or "42") or by operation_name. A name can have many runs (every
 * nightly import has the same one); the most recent, by creation time and then id,
 * is returned. null when nothing matches.
 */
export function findOperation(operations, idOrName) {
  if (idOrName == null || idOrName === '') return null;
  const id = idOf(idOrName);
  if (id != null) return operations[String(id)] ?? null;
  let best = null;
  for (const op of Object.values(operations)) {
    if (op.operation_name !== idOrName) continue;
    if (best === null || newerThan(op, best)) best = op;
  }
  return best;
}

function newerThan(a, b) {
  const ta = parseTime(a.created_at) ?? 0;
  const tb = parseTime(b.created_at) ?? 0;
  return ta === tb ? a.id > b.id : ta > tb;
}

/**
 * Every run for display: active ones first (newest created first), then finished ones
 * (newest finished first). The same order as the runs page, without its 50-run cap.
 */
export function sortOperations(operations) {
  const { active, recent } = partitionRuns(Object.values(operations), {}, { limit: Infinity });
  return [...active, ...recent];
}

/** Queued and running runs, newest created first. */
export function activeOperations(operations) {
  return sortOperations(operations).filter(isActive);
}

/**
 * ProgressClient options for a (re)connect: the caller's, with `initial` extended by
 * the runs the store already holds, so a store reconnected after disconnect() keeps
 * asking the server about them instead of forgetting their seqs.
 */
export function clientOptions(defaults, options, held) {
  const merged = { ...defaults, ...options };
  const initial = [...(merged.initial ?? []), ...Object.values(held ?? {})];
  return { ...merged, initial };
}
