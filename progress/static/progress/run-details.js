// The run's API detail (row errors, traceback, parameters, file links): not in live frames
// (they can be large), so fetched on load, when row_errors_total grows (at most once per
// DETAILS_MIN_GAP_MS, so failures show while the run runs) and on a final state.

import { isActive } from './state.js';

export const DETAILS_MIN_GAP_MS = 2000;
const DETAILS_RETRIES = 3;

/**
 * Whether a state of the run asks for a new fetch: more rows failed than last asked for,
 * or the run ended and its final detail was not asked for yet.
 */
export function detailsWanted(op, { askedForTotal, askedForFinal }) {
  const total = op.metadata?.row_errors_total ?? 0;
  return total > askedForTotal || (!isActive(op) && !askedForFinal);
}

/** The detail to keep: the newer of the held one and the fetched one, by seq. */
export function newerDetails(held, fetched) {
  return held == null || fetched.seq >= held.seq ? fetched : held;
}

/**
 * Fetches the detail from detailUrl, throttled and retried; onDetails(details) after each
 * fetch. `latest` is the detail held (null until the first fetch answers).
 */
export function createDetailsFetcher({ detailUrl, initial, onDetails }) {
  const state = {
    latest: null,
    askedForTotal: initial?.metadata?.row_errors_total ?? 0,
    askedForFinal: initial != null && !isActive(initial),
    wanted: false,
    inFlight: false,
    timer: null,
    lastAt: -Infinity,
    failures: 0,
  };

  function request() {
    state.wanted = true;
    if (state.inFlight || state.timer != null) return;
    const wait = Math.max(0, state.lastAt + DETAILS_MIN_GAP_MS - Date.now());
    state.timer = setTimeout(fetchDetails, wait);
  }

  async function fetchDetails() {
    Object.assign(state, { timer: null, wanted: false, inFlight: true, lastAt: Date.now() });
    try {
      const response = await fetch(detailUrl, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      state.latest = newerDetails(state.latest, await response.json());
      state.failures = 0;
      onDetails(state.latest);
    } catch (error) {
      console.warn('progress: could not load the run details', error);
      // A blip must not leave a finished run without its details; a few tries, then wait
      // for the next change.
      state.failures += 1;
      if (state.failures <= DETAILS_RETRIES) state.wanted = true;
    } finally {
      state.inFlight = false;
      if (state.wanted) request();
    }
  }

  return {
    get latest() {
      return state.latest;
    },
    request,
    /** More rows failed or the run ended: fetch again (throttled). */
    askIfNeeded(op) {
      if (!detailsWanted(op, state)) return;
      state.askedForTotal = Math.max(state.askedForTotal, op.metadata?.row_errors_total ?? 0);
      state.askedForFinal ||= !isActive(op);
      request();
    },
  };
}
