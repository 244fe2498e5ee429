// A dependency-free SVG sparkline of a run's throughput (items/s) over time, built from
// the updates this page received. The geometry is pure; renderSparkline writes the SVG.

import { formatDuration, formatRate, parseTime } from './state.js';

// Samples kept: ten minutes of updates at the server's 4/s broadcast cap would be 2,400,
// far more detail than a 300 px line can show.
export const MAX_SAMPLES = 240;
export const WINDOW_MS = 10 * 60_000;
export const VIEW_WIDTH = 300;
export const VIEW_HEIGHT = 60;
// Keeps the stroke from being clipped at the top and bottom edges.
const PADDING = 2;

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * Samples after adding one run update: [{t, v}] sorted by time. Uses the run's
 * updated_at (server time, so gaps between updates are real) or receivedMs. Runs
 * without a rate are skipped; an update not newer than the last sample is ignored.
 */
export function addSample(samples, op, receivedMs, { maxSamples = MAX_SAMPLES, windowMs = WINDOW_MS } = {}) {
  const v = op?.rate == null ? NaN : Number(op.rate);
  if (!Number.isFinite(v) || v < 0) return samples;
  const t = parseTime(op.updated_at) ?? receivedMs;
  const last = samples[samples.length - 1];
  if (last && t <= last.t) return samples;
  const next = [...samples, { t, v }];
  const cutoff = t - windowMs;
  const firstKept = Math.max(next.length - maxSamples, next.findIndex((s) => s.t >= cutoff));
  return firstKept > 0 ? next.slice(firstKept) : next;
}

/**
 * Path data for samples in a width x height box: {line, area, max, last}. The y axis
 * starts at 0 so a dip reads as a real slowdown, not noise blown up to full height.
 * Fewer than two samples give empty paths.
 */
export function sparklineGeometry(samples, { width = VIEW_WIDTH, height = VIEW_HEIGHT, padding = PADDING } = {}) {
  if (samples.length < 2) {
    return { line: '', area: '', max: samples[0]?.v ?? null, last: samples[0]?.v ?? null };
  }
  const t0 = samples[0].t;
  const span = samples[samples.length - 1].t - t0 || 1;
  const max = Math.max(...samples.map((s) => s.v));
  const top = max > 0 ? max : 1;
  const x = (t) => round(padding + ((t - t0) / span) * (width - 2 * padding));
  const y = (v) => round(height - padding - (v / top) * (height - 2 * padding));
  const points = samples.map((s) => `${x(s.t)},${y(s.v)}`);
  const line = `M${points.join('L')}`;
  const baseline = round(height - padding);
  const area = `${line}L${x(samples[samples.length - 1].t)},${baseline}L${x(t0)},${baseline}Z`;
  return { line, area, max, last: samples[samples.length - 1].v };
}

function round(n) {
  return Math.round(n * 10) / 10;
}

/** A one-sentence description of the chart for screen readers and the caption. */
export function sparklineSummary(samples) {
  if (samples.length < 2) return 'Throughput: not enough updates yet.';
  const { max, last } = sparklineGeometry(samples);
  return `Throughput latest ${formatRate(last)}, peak ${formatRate(max)}.`;
}

/**
 * The chart's axis labels: the peak rate at the top and 0 at the bottom; the time since
 * the run started (startedMs, else the first sample) at the first and last samples.
 * Empty strings while there are fewer than two samples.
 */
export function chartAxes(samples, startedMs = null) {
  if (samples.length < 2) return { peak: '', zero: '', from: '', to: '' };
  const { max } = sparklineGeometry(samples);
  const origin = startedMs ?? samples[0].t;
  return {
    peak: formatRate(max),
    zero: '0',
    from: formatDuration(Math.max(0, samples[0].t - origin)),
    to: formatDuration(Math.max(0, samples[samples.length - 1].t - origin)),
  };
}

/** An empty sparkline SVG for `doc`, to be filled by renderSparkline. */
export function createSparkline(doc, label = 'Throughput over time') {
  const svg = doc.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${VIEW_WIDTH} ${VIEW_HEIGHT}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  svg.setAttribute('class', 'sparkline');
  for (const part of ['area', 'line']) {
    const path = doc.createElementNS(SVG_NS, 'path');
    path.setAttribute('class', `sparkline__${part}`);
    // Keeps the line 1.5 px wide although the viewBox is stretched to the container.
    path.setAttribute('vector-effect', 'non-scaling-stroke');
    svg.append(path);
  }
  return svg;
}

/** Draw samples into an SVG made by createSparkline. */
export function renderSparkline(svg, samples) {
  const { line, area } = sparklineGeometry(samples);
  svg.querySelector('.sparkline__line')?.setAttribute('d', line);
  svg.querySelector('.sparkline__area')?.setAttribute('d', area);
  svg.setAttribute('aria-label', sparklineSummary(samples));
}
