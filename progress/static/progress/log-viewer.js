// The run page's log tail: the last LOG_PAGE lines, filtered by level, following the
// bottom while the reader is there, with lines missed between frames fetched from the API.

import { h, setHidden, setText } from './render.js';
import { LogBuffer, logTime, passesLevel } from './run-extras.js';
import { formatCount } from './state.js';

// Lines the log tail loads and keeps in the page.
export const LOG_PAGE = 1000;
// A reader this close to the bottom of the log is following it.
const LOG_STICK_PX = 8;

/**
 * Whether a log frame leaves a gap to fetch: the server skipped older lines of it, or its
 * first line is not the one after `before`, the last line held before it arrived.
 */
export function logFrameHasGap(before, lines, skipped = 0) {
  if ((skipped ?? 0) > 0) return true;
  const firstNew = Math.min(...lines.map((line) => Number(line?.number)).filter(Number.isFinite));
  return before > 0 && firstNew > before + 1;
}

/** The note under the log: how many of the run's lines the page shows ('' when all). */
export function logNoteText(shown, total) {
  return total > shown ? `Showing the last ${formatCount(shown)} of ${formatCount(total)} lines.` : '';
}

/** What an empty log list says: nothing logged yet, or nothing at the chosen level. */
export function logEmptyText(heldLines) {
  return heldLines ? 'No lines at this level.' : 'No log lines yet.';
}

/** Binds the log list and level select under `part`; returns load, catchUp and receive. */
export function createLogViewer({ doc, part, logsUrl }) {
  const buffer = new LogBuffer(LOG_PAGE);
  const list = part('log');
  const select = part('log-level');
  let minLevel = select.value;
  let stick = true;
  let counts = null; // {total, stored, dropped} from the API
  let fetching = null;

  list.addEventListener('scroll', () => {
    stick = list.scrollTop + list.clientHeight >= list.scrollHeight - LOG_STICK_PX;
  });
  select.addEventListener('change', () => {
    minLevel = select.value;
    stick = true;
    redraw();
  });

  function lineNode(line) {
    return h(
      doc,
      'li',
      { 'data-level': String(line.level ?? ''), 'data-number': String(line.number) },
      h(doc, 'time', { datetime: line.time ?? '' }, logTime(line.time)),
      ' ',
      h(doc, 'span', { class: 'log__level' }, String(line.level ?? '')),
      ' ',
      h(doc, 'span', { class: 'log__logger' }, String(line.logger ?? '')),
      ' ',
      h(doc, 'span', { class: 'log__message' }, String(line.message ?? '')),
    );
  }

  function redraw() {
    list.replaceChildren(...buffer.filtered(minLevel).map(lineNode));
    afterChange();
  }

  function afterChange() {
    const first = buffer.lines[0]?.number;
    while (list.firstElementChild && Number(list.firstElementChild.dataset.number) < first) {
      list.firstElementChild.remove();
    }
    setHidden(part('log-empty'), list.childElementCount > 0);
    setText(part('log-empty'), logEmptyText(buffer.lines.length));
    const total = Math.max(counts?.total ?? 0, buffer.lastNumber);
    setText(part('log-note'), logNoteText(buffer.lines.length, total));
    if (stick) list.scrollTop = list.scrollHeight;
  }

  function add(lines) {
    const before = buffer.lastNumber;
    const { appended, reordered } = buffer.add(lines);
    if (reordered) redraw();
    else if (appended.length) {
      list.append(...appended.filter((line) => passesLevel(line, minLevel)).map(lineNode));
      afterChange();
    }
    return before;
  }

  async function fetchLines(query) {
    if (fetching) return fetching;
    fetching = (async () => {
      try {
        const response = await fetch(`${logsUrl}?${new URLSearchParams(query)}`, {
          credentials: 'same-origin',
          headers: { Accept: 'application/json' },
        });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const page = await response.json();
        counts = { total: page.total, stored: page.stored, dropped: page.dropped };
        add(page.lines);
        if (!page.lines?.length) afterChange();
      } catch (error) {
        console.warn('progress: could not load the run log', error);
      } finally {
        fetching = null;
      }
    })();
    return fetching;
  }

  const loadTail = () => fetchLines({ tail: 'true', limit: String(LOG_PAGE) });

  return {
    load: loadTail,
    /** Fetch the lines after the last one held, once any fetch under way has ended (so
     * the query runs after the moment the caller cares about: a snapshot's arrival). */
    async catchUp() {
      if (fetching) await fetching;
      if (!buffer.lastNumber) return loadTail();
      return fetchLines({ after: String(buffer.lastNumber), limit: String(LOG_PAGE) });
    },
    receive(msg) {
      const lines = Array.isArray(msg.lines) ? msg.lines : [];
      const before = add(lines);
      if (logFrameHasGap(before, lines, msg.skipped)) fetchLines({ after: String(before), limit: String(LOG_PAGE) });
    },
  };
}
