// The run's stored history (GET …/history/): the throughput chart over the whole run, the
// table of stage results and, once the run has ended, its averages beside past runs.

import { addSample, chartAxes, createSparkline, renderSparkline, sparklineSummary } from './chart.js';
import { h, setHidden, setText } from './render.js';
import { historyRateSamples, mergeSamples, spanText } from './run-extras.js';
import { elapsedMs, formatCount, formatRate, formatValue, isActive, parseTime, statusLabel } from './state.js';

// Live chart samples kept beside the run's stored history (which covers the whole run).
const LIVE_SAMPLE_OPTIONS = { maxSamples: 600, windowMs: Infinity };
// A run that ended quicker than this has no curve worth drawing (two or three samples
// make a triangle): the caption says how long it took instead.
export const QUICK_RUN_MS = 1000;

/** The stage table's rows; the running stage's items come from the live run, not the fetch. */
export function stageResultRows(stages, op) {
  const live = op && isActive(op) ? op.metadata?.stage : null;
  return (Array.isArray(stages) ? stages : []).map((stage) =>
    live && stage?.status === 'running' && stage?.name === live.name
      ? { ...stage, items: op.current_item, total: op.total_items, duration: null }
      : stage,
  );
}

/** "40 of 100" for a stage with a total, else its item count. */
export function stageItemsCell(stage) {
  return stage?.total != null
    ? `${formatCount(stage.items ?? 0)} of ${formatCount(stage.total)}`
    : formatCount(stage?.items ?? 0);
}

/** The caption under the chart: what it covers, then its one-sentence summary. */
export function chartCaption(fromHistory, samples) {
  const span = fromHistory ? 'Items per second over the run.' : 'Items per second since this page opened.';
  return `${span} ${sparklineSummary(samples)}`;
}

/**
 * What the chart shows for a run: {show, caption}. A run that ended in under QUICK_RUN_MS
 * gets no chart, only "Took 0.4 s"; every other run its curve and chartCaption.
 */
export function chartView(op, samples, fromHistory, nowMs = Date.now()) {
  const elapsed = op && !isActive(op) ? elapsedMs(op, nowMs) : null;
  if (elapsed != null && elapsed < QUICK_RUN_MS) {
    const took = elapsed < 100 ? 'under 0.1 s' : `${(elapsed / 1000).toFixed(1)} s`;
    return { show: false, caption: `Took ${took}: too quick for a throughput chart.` };
  }
  return { show: true, caption: chartCaption(fromHistory, samples) };
}

/**
 * Binds the chart and history panels under `part`. follow(op) with every new state keeps
 * the live samples and refetches when a stage ends or the run does; onLoaded(op) after a
 * fetch, with the run as held then (or null).
 */
export function createHistoryView({ doc, part, historyUrl, initial, getOperation, onLoaded }) {
  const chart = createSparkline(doc);
  const axis = (name) => h(doc, 'span', { class: `chart__axis chart__axis--${name}`, 'data-testid': `chart-${name}`, 'aria-hidden': 'true' });
  const labels = { peak: axis('peak'), zero: axis('zero'), from: axis('from'), to: axis('to') };
  // Labels are HTML beside the SVG: text inside a stretched viewBox would stretch too.
  const frame = h(
    doc,
    'div',
    { class: 'chart__frame' },
    labels.peak,
    labels.zero,
    chart,
    h(doc, 'div', { class: 'chart__time' }, labels.from, labels.to),
  );
  part('chart').append(frame);
  let samples = [];
  let historySamples = [];
  let data = null;
  let askedForFinal = initial != null && !isActive(initial);
  let stageIndex = initial?.metadata?.stage?.index ?? null; // the stage the history was fetched in

  async function load() {
    try {
      const response = await fetch(historyUrl, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      data = await response.json();
    } catch (error) {
      console.warn('progress: could not load the run history', error);
      return;
    }
    const op = getOperation() ?? initial;
    historySamples = historyRateSamples(data.samples, parseTime(op?.started_at));
    renderStageResults(op);
    onLoaded(op);
  }

  function follow(op) {
    samples = addSample(samples, op, Date.now(), LIVE_SAMPLE_OPTIONS);
    const stage = op.metadata?.stage?.index ?? null;
    if (!isActive(op) && !askedForFinal) {
      askedForFinal = true;
      load();
    } else if (isActive(op) && stage !== stageIndex) {
      // A stage ended: its final figures (and the next one's start) are in the history.
      stageIndex = stage;
      load();
    }
  }

  function renderChart(op = getOperation() ?? initial) {
    const all = mergeSamples(historySamples, samples);
    const view = chartView(op, all, historySamples.length > 0);
    setHidden(frame, !view.show);
    setText(part('chart-caption'), view.caption);
    if (!view.show) return;
    renderSparkline(chart, all);
    const axes = chartAxes(all, parseTime(op?.started_at));
    for (const [name, node] of Object.entries(labels)) setText(node, axes[name]);
  }

  function renderStageResults(op) {
    const list = stageResultRows(data?.stage_results, op);
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
          h(doc, 'td', { class: 'num' }, stageItemsCell(stage)),
          num(stage?.added),
          num(stage?.updated),
          num(stage?.failed),
          h(doc, 'td', { class: 'num' }, stage?.duration == null ? '—' : spanText(stage.duration * 1000)),
        ),
      ),
    );
  }

  function renderAverages(op) {
    const finished = !isActive(op) && data != null;
    setHidden(part('run-averages'), !finished);
    if (!finished) return;
    setText(part('average-rate'), formatRate(data.average_rate));
    const seconds = data.duration_seconds;
    setText(part('duration'), seconds == null ? '—' : spanText(seconds * 1000));
    const typical = data.typical_duration_seconds;
    setHidden(part('typical-fact'), typical == null);
    if (typical != null) {
      const slower = data.slower_than_usual ? ' (this run was much slower)' : '';
      setText(part('typical-duration'), `${spanText(typical * 1000)}${slower}`);
    }
  }

  return {
    load,
    follow,
    renderChart,
    /** The run's average rate once it has ended and its history is in; else null. */
    averageRate: (op) => (!isActive(op) ? data?.average_rate : null),
    render(op) {
      renderChart(op);
      renderAverages(op);
      if (data) renderStageResults(op);
    },
  };
}
