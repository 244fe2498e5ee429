// One run in detail, live over /ws/progress/<id>/.

import { addSample, createSparkline, renderSparkline, sparklineSummary } from './chart.js';
import { CONNECTION_STATES, ProgressClient } from './client.js';
import { config, runPath } from './config.js';
import {
  etaFromHistory,
  historyRateSamples,
  LogBuffer,
  logTime,
  mergeSamples,
  passesLevel,
  rerunUrl,
  rowErrorsView,
  settingsEntries,
  silenceText,
  sinceText,
  titleText,
} from './run-extras.js';
import {
  bindConnectionIndicator,
  countsText,
  itemsScopeText,
  h,
  readJsonScript,
  setAttr,
  setHidden,
  setText,
  stageItemsText,
  stageText,
  STATUS_ICONS,
  updateBar,
} from './render.js';
import {
  elapsedMs,
  etaText,
  formatCount,
  formatDateTime,
  formatDateTimeSeconds,
  formatDuration,
  formatPercent,
  formatRate,
  formatValue,
  FRAME_TYPES,
  humanizeKey,
  isActive,
  parseTime,
  SILENCE_MS,
  statusLabel,
  badgeKey,
  lateCancelText,
  runStatusText,
} from './state.js';

// Elapsed time, ETA and "last update" move with the clock between messages.
const TICK_MS = 1000;
// Row errors, the traceback and the report are not in live frames (they can be large):
// they come from the API detail, fetched on load, when row_errors_total grows (at most
// once per DETAILS_MIN_GAP_MS, so failures show while the run runs) and on a final state.
const DETAILS_MIN_GAP_MS = 2000;
const DETAILS_RETRIES = 3;
// Live chart samples kept beside the run's stored history (which covers the whole run).
const LIVE_SAMPLE_OPTIONS = { maxSamples: 600, windowMs: Infinity };
// Lines the log tail loads and keeps in the page.
const LOG_PAGE = 1000;
// A reader this close to the bottom of the log is following it.
const LOG_STICK_PX = 8;
const TITLE_SUFFIX = ' · Progress';
// The list page sets this (to '1') when its Start click asked for notification permission,
// so the run's page notifies without another click; removed once the run has ended.
const NOTIFY_KEY_PREFIX = 'progress-notify:';

const doc = document;
const root = doc.querySelector('[data-operation-id]');
const operationId = Number(root.dataset.operationId);
const part = (name) => root.querySelector(`[data-part="${name}"]`);

// The page names its URLs (detail.html); a restyled page that omits them gets the config's.
const detailUrl = root.dataset.detailUrl || runPath(config.apiRunUrl, operationId);
const pipelinesUrl = root.dataset.pipelinesUrl || config.apiPipelinesUrl;
const listUrl = root.dataset.listUrl || config.listUrl;
const historyUrl = `${detailUrl.replace(/\/$/, '')}/history/`;
const logsUrl = `${detailUrl.replace(/\/$/, '')}/logs/`;

const initial = readJsonScript(doc, 'initial-operation');
const client = new ProgressClient({ operationId, initial: initial ? [initial] : [] });
bindConnectionIndicator(doc.querySelector('[data-connection-state]'), client);

const chart = createSparkline(doc);
part('chart').append(chart);
let samples = [];
let historySamples = [];
let historyData = null;
let historyAskedForFinal = initial != null && !isActive(initial);
let historyStage = initial?.metadata?.stage?.index ?? null; // the stage the history was fetched in
let lastRenderedStatus = initial?.status ?? null;
let lastRenderedSeq = null;

// The API detail last fetched (row errors, traceback, report), and when to fetch again.
const detailsState = {
  details: null,
  askedForTotal: initial?.metadata?.row_errors_total ?? 0,
  askedForFinal: initial != null && !isActive(initial),
  wanted: false,
  inFlight: false,
  timer: null,
  lastAt: -Infinity,
  failures: 0,
};

const log = setUpLog();
const notifier = setUpNotifications();
const cancelConfirm = setUpCancelConfirm();
const rowErrorsState = { rows: [], total: 0, expanded: false };
let pipelineDescription; // undefined until asked, then the description or null
let settingsKey = null; // what the settings list was last drawn from
setUpRowErrorsToggle();

// Marks the page once the server's heartbeats arrive (silence detection is then armed).
client.onFrame(FRAME_TYPES.heartbeat, () => setAttr(root, 'data-heartbeats', 'seen'));
client.onFrame(FRAME_TYPES.log, (msg) => {
  if (Number(msg?.id) === operationId) log.receive(msg);
});
let lastConnectionState = client.state;
client.subscribe((store, changed, state) => {
  if (state !== lastConnectionState) {
    // Back after a drop: lines logged meanwhile were not sent to this page.
    if (state === 'connected' && ['reconnecting', 'offline', 'silent'].includes(lastConnectionState)) log.catchUp();
    if (state === CONNECTION_STATES.SILENT) announce('Updates have stopped arriving; the figures may be out of date.');
    else if (lastConnectionState === CONNECTION_STATES.SILENT && state === 'connected') announce('Updates resumed.');
    lastConnectionState = state;
    renderSilence();
    const held = client.getOperation(operationId);
    if (held) {
      renderClock(held);
      renderStatus(held);
    }
  }
  const op = client.getOperation(operationId);
  if (!op || op.seq === lastRenderedSeq) return;
  lastRenderedSeq = op.seq;
  samples = addSample(samples, op, Date.now(), LIVE_SAMPLE_OPTIONS);
  render(op);
  askForDetailsIfNeeded(op);
  if (!isActive(op) && !historyAskedForFinal) {
    historyAskedForFinal = true;
    fetchHistory();
  } else if (isActive(op) && (op.metadata?.stage?.index ?? null) !== historyStage) {
    // A stage ended: its final figures (and the next one's start) are in the history.
    historyStage = op.metadata?.stage?.index ?? null;
    fetchHistory();
  }
});
requestDetails();
fetchHistory();
log.load();

setInterval(() => {
  renderSilence();
  const op = client.getOperation(operationId);
  if (op && isActive(op)) renderClock(op);
}, TICK_MS);
client.connect();

function render(op) {
  const now = Date.now();
  doc.title = titleText(op, TITLE_SUFFIX);
  notifier.update(op);
  root.dataset.status = op.status;
  renderStatus(op);
  updateBar(part('bar'), op);
  setText(part('percent'), formatPercent(op.progress_percentage));
  renderStage(op);
  setText(part('current-operation'), op.current_operation || '');
  setHidden(part('current-operation'), !op.current_operation || !isActive(op));

  setNumber(part('current-item'), op.current_item);
  if (op.total_items == null) setText(part('total-items'), 'unknown');
  else setNumber(part('total-items'), op.total_items);
  // A staged run counts its current stage's items; say so next to the overall percent.
  setText(part('items-scope'), itemsScopeText(op));
  setNumber(part('items-added'), op.items_added);
  setNumber(part('items-updated'), op.items_updated);
  setNumber(part('items-unchanged'), op.items_unchanged);
  setNumber(part('items-skipped'), op.items_skipped);
  setNumber(part('items-failed'), op.items_failed);
  const averageRate = !isActive(op) ? historyData?.average_rate : null;
  setText(part('rate'), op.status === 'running' ? formatRate(op.rate) : formatRate(averageRate));
  renderClock(op);
  renderSilence(now);

  renderDetails(op);
  renderTimes(op);

  renderChart();
  renderAverages(op);
  if (historyData) renderStageResults(historyData.stage_results, op);
}

function renderChart() {
  const all = mergeSamples(historySamples, samples);
  renderSparkline(chart, all);
  const span = historySamples.length ? 'Items per second over the run.' : 'Items per second since this page opened.';
  setText(part('chart-caption'), `${span} ${sparklineSummary(all)}`);
}

// --- the run's history: whole-run samples, stage results, averages ------------------

async function fetchHistory() {
  try {
    const response = await fetch(historyUrl, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    historyData = await response.json();
  } catch (error) {
    console.warn('progress: could not load the run history', error);
    return;
  }
  const op = client.getOperation(operationId) ?? initial;
  historySamples = historyRateSamples(historyData.samples, parseTime(op?.started_at));
  renderStageResults(historyData.stage_results, op);
  if (op) render(op);
  else renderChart();
}

/** The stage table; the running stage's items come from the live run, not the fetch. */
function renderStageResults(stages, op) {
  const live = op && isActive(op) ? op.metadata?.stage : null;
  const list = (Array.isArray(stages) ? stages : []).map((stage) =>
    live && stage?.status === 'running' && stage?.name === live.name
      ? { ...stage, items: op.current_item, total: op.total_items, duration: null }
      : stage,
  );
  setHidden(part('stage-results-panel'), list.length < 2);
  if (list.length < 2) return;
  const num = (value) => h(doc, 'td', { class: 'num' }, formatCount(value ?? 0));
  part('stage-results').tBodies[0].replaceChildren(
    ...list.map((stage) =>
      h(
        doc,
        'tr',
        { 'data-status': String(stage?.status ?? '') },
        h(doc, 'th', { scope: 'row' }, formatValue(stage?.name)),
        h(doc, 'td', {}, statusLabel(stage?.status)),
        h(
          doc,
          'td',
          { class: 'num' },
          stage?.total != null ? `${formatCount(stage.items ?? 0)} of ${formatCount(stage.total)}` : formatCount(stage?.items ?? 0),
        ),
        num(stage?.added),
        num(stage?.updated),
        num(stage?.failed),
        h(doc, 'td', { class: 'num' }, stage?.duration == null ? '—' : spanText(stage.duration * 1000)),
      ),
    ),
  );
}

function renderAverages(op) {
  const finished = !isActive(op) && historyData != null;
  setHidden(part('run-averages'), !finished);
  if (!finished) return;
  setText(part('average-rate'), formatRate(historyData.average_rate));
  const seconds = historyData.duration_seconds;
  setText(part('duration'), seconds == null ? '—' : spanText(seconds * 1000));
  const typical = historyData.typical_duration_seconds;
  setHidden(part('typical-fact'), typical == null);
  if (typical != null) {
    const slower = historyData.slower_than_usual ? ' (this run was much slower)' : '';
    setText(part('typical-duration'), `${spanText(typical * 1000)}${slower}`);
  }
}

// --- the log tail -------------------------------------------------------------------

function setUpLog() {
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
    setText(part('log-empty'), buffer.lines.length ? 'No lines at this level.' : 'No log lines yet.');
    const total = Math.max(counts?.total ?? 0, buffer.lastNumber);
    setText(
      part('log-note'),
      total > buffer.lines.length ? `Showing the last ${formatCount(buffer.lines.length)} of ${formatCount(total)} lines.` : '',
    );
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

  return {
    load: () => fetchLines({ tail: 'true', limit: String(LOG_PAGE) }),
    catchUp: () => fetchLines({ after: String(buffer.lastNumber), limit: String(LOG_PAGE) }),
    receive(msg) {
      const lines = Array.isArray(msg.lines) ? msg.lines : [];
      const before = add(lines);
      // Older lines of this frame were left out, or lines went missing between frames.
      const firstNew = Math.min(...lines.map((l) => Number(l?.number)).filter(Number.isFinite));
      if ((msg.skipped ?? 0) > 0 || (before > 0 && firstNew > before + 1)) {
        fetchLines({ after: String(before), limit: String(LOG_PAGE) });
      }
    },
  };
}

// --- notify me ----------------------------------------------------------------------

function setUpNotifications() {
  const button = part('notify-button');
  const Notify = globalThis.Notification;
  const key = `${NOTIFY_KEY_PREFIX}${operationId}`;
  const storage = safeStorage();
  let wasActive = initial != null ? isActive(initial) : true;
  // Asked for on the list page's Start click (the permission prompt came with that click).
  let wanted = storage?.getItem(key) === '1';
  if (!button || typeof Notify !== 'function') return { update() {} };

  function remember(on) {
    try {
      if (on) storage?.setItem(key, '1');
      else storage?.removeItem(key);
    } catch {
      // storage full or blocked: the choice holds for this page only
    }
  }

  function show(op) {
    setHidden(button, !isActive(op) || Notify.permission === 'denied');
    setAttr(button, 'aria-pressed', String(wanted && Notify.permission === 'granted'));
    setText(button, wanted && Notify.permission === 'granted' ? 'Will notify you when it ends' : 'Notify me when it ends');
  }

  button.addEventListener('click', async () => {
    if (wanted && Notify.permission === 'granted') wanted = false;
    else {
      const permission = Notify.permission === 'granted' ? 'granted' : await Notify.requestPermission();
      wanted = permission === 'granted';
    }
    remember(wanted);
    const op = client.getOperation(operationId);
    if (op) show(op);
  });

  return {
    update(op) {
      const active = isActive(op);
      if (wasActive && !active && wanted && doc.hidden && Notify.permission === 'granted') {
        const body = `${runStatusText(op)}. ${countsText(op)}.`;
        const note = new Notify(titleText(op), { body, tag: `run-${op.id}` });
        note.onclick = () => {
          globalThis.focus();
          note.close();
        };
      }
      // An ended run never notifies again: forget the wish so storage does not fill up.
      if (!active) remember(false);
      wasActive = active;
      show(op);
    },
  };
}

function safeStorage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // storage disabled for this site
  }
}

// --- cancel, with a confirming second click ---------------------------------------------

// An unconfirmed "Confirm cancel" goes back to "Cancel run" after this long.
const CANCEL_CONFIRM_MS = 10_000;

function setUpCancelConfirm() {
  const form = part('cancel-form');
  const button = part('cancel-button');
  const keep = part('cancel-keep');
  const help = part('cancel-confirm-help');
  if (!form || !button) return { reset() {} };
  let confirming = false;
  let timer = null;

  function reset() {
    confirming = false;
    clearTimeout(timer);
    setHidden(keep, true);
    setAttr(button, 'aria-describedby', null);
    setText(help, '');
    if (!button.disabled) setText(button, 'Cancel run');
  }

  form.addEventListener('submit', (event) => {
    if (confirming) return; // the second click: let the form post
    event.preventDefault();
    confirming = true;
    setText(button, 'Confirm cancel');
    setText(help, 'Press again to stop this run. Items done so far are kept.');
    setAttr(button, 'aria-describedby', 'cancel-confirm-help');
    setHidden(keep, false);
    announce('Press Confirm cancel to stop this run, or Keep running.');
    timer = setTimeout(reset, CANCEL_CONFIRM_MS);
  });
  keep?.addEventListener('click', () => {
    reset();
    button.focus();
  });
  return { reset };
}

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
  const text = isActive(op) ? stageItemsText(op) : stageText(op);
  const percent = op.metadata?.stage_percentage;
  const stage = part('stage');
  setText(stage, text && percent != null && isActive(op) ? `${text} (${formatPercent(percent)} of this stage)` : text);
  setHidden(stage, !text);

  // The stage list: done ✓, current, still to come.
  const names = Array.isArray(op.metadata?.stages) ? op.metadata.stages : [];
  const list = part('stages');
  setHidden(list, names.length < 2);
  const current = op.metadata?.stage?.index ?? 0; // 1-based; 0 = none started
  const done = op.status === 'completed';
  if (list.children.length !== names.length) list.replaceChildren(...names.map(() => doc.createElement('li')));
  names.forEach((name, i) => {
    const item = list.children[i];
    const state = done || i + 1 < current ? 'done' : i + 1 === current ? 'current' : 'todo';
    setAttr(item, 'data-state', state);
    setAttr(item, 'aria-current', state === 'current' ? 'step' : null);
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
  const now = quietForMs(realNow) > 0 ? client.lastFrameAt : realNow;
  const elapsed = elapsedMs(op, now);
  setText(part('elapsed'), elapsed == null ? '—' : isActive(op) ? formatDuration(elapsed) : spanText(elapsed));
  setText(part('eta'), isActive(op) ? etaText(op, now) || '—' : '—');
  const eta = part('eta');
  setAttr(eta, 'title', op.estimated_completion && isActive(op) ? `Expected ${formatDateTime(op.estimated_completion)}` : null);
  setHidden(part('eta-source'), !etaFromHistory(op));
  setText(part('last-update'), sinceText(op.updated_at, realNow) || '—');
}

/**
 * How long no frame has arrived, when that means the page may be stale: the socket is
 * silent, or it dropped and has not been back for SILENCE_MS; else 0.
 */
function quietForMs(now) {
  const last = client.lastFrameAt;
  if (last == null) return 0;
  // Signed out (or refused): nothing more will arrive on this page.
  if (client.state === CONNECTION_STATES.SILENT || client.state === CONNECTION_STATES.REFUSED) {
    return Math.max(0, now - last);
  }
  const away = [CONNECTION_STATES.RECONNECTING, CONNECTION_STATES.OFFLINE].includes(client.state);
  return away && now - last >= SILENCE_MS ? now - last : 0;
}

/** Grey out a live run and count the silence while no frame arrives. */
function renderSilence(now = Date.now()) {
  const op = client.getOperation(operationId);
  const quiet = op != null && isActive(op) ? quietForMs(now) : 0;
  setAttr(root, 'data-silent', quiet > 0 ? 'true' : null);
  const notice = part('silence');
  setHidden(notice, quiet === 0);
  if (quiet === 0) return;
  const why =
    client.state === CONNECTION_STATES.REFUSED
      ? client.refusal === 'signed-out'
        ? 'You are signed out'
        : 'The server refused this page'
      : client.state === CONNECTION_STATES.SILENT
        ? 'The server has gone quiet'
        : 'Reconnecting';
  setText(notice, `${silenceText(quiet)}. ${why}; what this page shows may be out of date.`);
}

/** More rows failed or the run ended: fetch the API detail (throttled). */
function askForDetailsIfNeeded(op) {
  const total = op.metadata?.row_errors_total ?? 0;
  const final = !isActive(op);
  if (total <= detailsState.askedForTotal && (!final || detailsState.askedForFinal)) return;
  detailsState.askedForTotal = Math.max(detailsState.askedForTotal, total);
  detailsState.askedForFinal ||= final;
  requestDetails();
}

function requestDetails() {
  detailsState.wanted = true;
  if (detailsState.inFlight || detailsState.timer != null) return;
  const wait = Math.max(0, detailsState.lastAt + DETAILS_MIN_GAP_MS - Date.now());
  detailsState.timer = setTimeout(fetchDetails, wait);
}

async function fetchDetails() {
  Object.assign(detailsState, { timer: null, wanted: false, inFlight: true, lastAt: Date.now() });
  try {
    const response = await fetch(detailUrl, {
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const data = await response.json();
    if (detailsState.details == null || data.seq >= detailsState.details.seq) detailsState.details = data;
    detailsState.failures = 0;
    const op = client.getOperation(operationId);
    if (op) renderDetails(op);
  } catch (error) {
    console.warn('progress: could not load the run details', error);
    // A blip must not leave a finished run without its details; a few tries, then wait
    // for the next change.
    detailsState.failures += 1;
    if (detailsState.failures <= DETAILS_RETRIES) detailsState.wanted = true;
  } finally {
    detailsState.inFlight = false;
    if (detailsState.wanted) requestDetails();
  }
}

/** The parts that come from the API detail, with the live run for what it lacks. */
function renderDetails(op) {
  const { details } = detailsState;
  const meta = details?.metadata ?? {};
  // The detail is the newer source while its seq is; else the live frame is.
  const freshest = details != null && details.seq >= op.seq ? details : op;
  renderError(freshest.error_message, meta.traceback);
  const total = Math.max(op.metadata?.row_errors_total ?? 0, meta.row_errors_total ?? 0);
  renderRowErrors(meta.row_errors, total, isActive(op));
  renderSummary(freshest.metadata ?? {}, details?.files ?? []);
  renderSettings(details, op);
}

// --- settings and "run again" ---------------------------------------------------------

/** The run's parameters (API detail) as a labelled list; "Run again" if you may start it. */
function renderSettings(details, op) {
  const meta = details?.metadata;
  const parameters = meta?.parameters;
  if (!parameters || typeof parameters !== 'object') return;
  const key = `${details.seq}:${pipelineDescription?.name ?? pipelineDescription}:${isActive(op)}`;
  if (key === settingsKey) return;
  settingsKey = key;
  const name = meta.pipeline || op.metadata?.pipeline;
  if (name && pipelineDescription === undefined) {
    pipelineDescription = null;
    fetchPipelineDescription(name).then(() => renderSettings(detailsState.details, client.getOperation(operationId) ?? op));
  }
  const description = pipelineDescription || null;
  const entries = settingsEntries(parameters, { files: meta.files, pipeline: description });
  const list = part('settings');
  for (const node of list.querySelectorAll('[data-setting]')) node.remove();
  // An upload's label links to its download when the API lists one ({label, kind, url}).
  const links = Array.isArray(details.files) ? details.files : [];
  for (const entry of entries) {
    const link = entry.isFile ? links.find((f) => f?.kind === 'upload' && f?.label === entry.value && f?.url) : null;
    const value = link ? h(doc, 'a', { href: String(link.url), download: true }, entry.value) : entry.value;
    list.append(
      h(doc, 'dt', { 'data-setting': entry.name }, entry.label),
      h(doc, 'dd', { 'data-setting': entry.name, 'data-testid': `setting-${entry.name}` }, value),
    );
  }
  const again = part('run-again');
  setHidden(again, !description || isActive(op));
  if (!description) return;
  setAttr(part('run-again-link'), 'href', rerunUrl(listUrl, description.name, parameters, { pipeline: description }));
  const needsFile = entries.some((entry) => entry.isFile);
  setText(part('run-again-note'), needsFile ? 'Opens the start form with these settings; choose the file again.' : 'Opens the start form with these settings.');
}

/** This run's pipeline as GET /api/v1/pipelines/ describes it; null when you may not start it. */
async function fetchPipelineDescription(name) {
  try {
    const response = await fetch(pipelinesUrl, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const list = await response.json();
    pipelineDescription = (Array.isArray(list) ? list : []).find((p) => p?.name === name) ?? null;
  } catch (error) {
    console.warn('progress: could not load the pipelines', error);
    pipelineDescription = null;
  }
}

function renderError(errorMessage, tracebackText) {
  const message = errorMessage || '';
  const traceback = tracebackText || '';
  setHidden(part('error-panel'), !message && !traceback);
  setText(part('error-message'), message);
  setHidden(part('error-message'), !message);
  setHidden(part('traceback'), !traceback);
  setText(part('traceback-text'), traceback);
}

function renderRowErrors(rows, total, active) {
  const list = Array.isArray(rows) ? rows : [];
  Object.assign(rowErrorsState, { rows: list, total, active });
  setHidden(part('row-errors-panel'), list.length === 0);
  if (list.length === 0) return;
  const view = rowErrorsView(list, total, { active, expanded: rowErrorsState.expanded });
  setText(part('row-errors-note'), view.note);
  const toggle = part('row-errors-toggle');
  setHidden(toggle, !view.more);
  setAttr(toggle, 'aria-expanded', String(rowErrorsState.expanded));
  setText(toggle, rowErrorsState.expanded ? 'Show fewer' : `Show all ${formatCount(list.length)}`);
  const body = part('row-errors').tBodies[0];
  body.replaceChildren(
    ...view.rows.map((row) =>
      h(
        doc,
        'tr',
        {},
        h(doc, 'td', { class: 'num', 'data-label': 'Line' }, formatValue(row?.line)),
        h(doc, 'td', { 'data-label': 'Value' }, h(doc, 'code', {}, formatValue(row?.value))),
        h(doc, 'td', { 'data-label': 'Reason' }, formatValue(row?.reason)),
      ),
    ),
  );
}

function setUpRowErrorsToggle() {
  part('row-errors-toggle').addEventListener('click', () => {
    rowErrorsState.expanded = !rowErrorsState.expanded;
    renderRowErrors(rowErrorsState.rows, rowErrorsState.total, rowErrorsState.active);
  });
}

function renderSummary(metadata, files) {
  const summary = metadata.summary;
  const entries = summary && typeof summary === 'object' && !Array.isArray(summary) ? Object.entries(summary) : [];
  // Files the run made (reports, exports); uploads are listed under Settings.
  const made = (Array.isArray(files) ? files : []).filter((file) => file?.kind !== 'upload' && file?.url);
  setHidden(part('summary-panel'), entries.length === 0 && made.length === 0);
  const list = part('summary');
  setHidden(list, entries.length === 0);
  list.replaceChildren(
    ...entries.flatMap(([key, value]) => [h(doc, 'dt', {}, humanizeKey(key)), h(doc, 'dd', {}, formatValue(value))]),
  );
  // Links named by the file's label: the storage name is internal (issue 17, item 7).
  const downloads = part('downloads');
  setHidden(downloads, made.length === 0);
  downloads.replaceChildren(
    ...made.map((file) =>
      h(doc, 'li', {}, h(doc, 'a', { href: file.url, download: '', 'data-testid': 'report-link' }, `Download ${file.label}`)),
    ),
  );
}

function renderTimes(op) {
  for (const [name, iso] of [
    ['created-at', op.created_at],
    ['started-at', op.started_at],
    ['completed-at', op.completed_at],
  ]) {
    const node = part(name);
    setAttr(node, 'datetime', iso || null);
    setText(node, formatDateTimeSeconds(iso) || '—');
  }
}

/** A finished span of time; "under 1 s" rather than "0 s" for quick runs and stages. */
function spanText(ms) {
  return ms < 1000 ? 'under 1 s' : formatDuration(ms);
}

function setNumber(node, value) {
  setText(node, formatCount(value ?? 0));
  setAttr(node, 'data-value', String(value ?? 0));
}

function announce(text) {
  const node = doc.querySelector('[data-announcer]');
  setText(node, '');
  requestAnimationFrame(() => setText(node, text));
}
