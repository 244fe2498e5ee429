import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { addSample, chartAxes, sparklineGeometry, sparklineSummary } from '../../static/progress/chart.js';
import { op } from './fakes.mjs';

const at = (s) => new Date(Date.UTC(2024, 0, 1, 0, 0, s)).toISOString();

describe('addSample', () => {
  test('adds rate samples in time order and skips runs without a rate', () => {
    let samples = [];
    samples = addSample(samples, op({ rate: 5, updated_at: at(1) }), 0);
    samples = addSample(samples, op({ rate: null, updated_at: at(2) }), 0);
    samples = addSample(samples, op({ rate: 7, updated_at: at(3) }), 0);
    assert.deepEqual(samples.map((s) => s.v), [5, 7]);
  });

  test('ignores updates not newer than the last sample', () => {
    let samples = addSample([], op({ rate: 5, updated_at: at(5) }), 0);
    const same = addSample(samples, op({ rate: 9, updated_at: at(5) }), 0);
    assert.equal(same, samples);
    samples = addSample(samples, op({ rate: 9, updated_at: at(4) }), 0);
    assert.equal(samples.length, 1);
  });

  test('keeps at most maxSamples and only the time window', () => {
    let samples = [];
    for (let s = 0; s < 20; s += 1) samples = addSample(samples, op({ rate: s, updated_at: at(s) }), 0, { maxSamples: 5 });
    assert.deepEqual(samples.map((x) => x.v), [15, 16, 17, 18, 19]);
    let windowed = [];
    for (let s = 0; s < 20; s += 1) windowed = addSample(windowed, op({ rate: s, updated_at: at(s) }), 0, { windowMs: 3000 });
    assert.deepEqual(windowed.map((x) => x.v), [16, 17, 18, 19]);
  });

  test('falls back to the receive time when updated_at is missing', () => {
    const samples = addSample([], op({ rate: 3, updated_at: null }), 12345);
    assert.deepEqual(samples, [{ t: 12345, v: 3 }]);
  });
});

describe('sparklineGeometry', () => {
  test('spans the box: first point at the left, peak at the top, zero at the bottom', () => {
    const samples = [
      { t: 0, v: 0 },
      { t: 50, v: 10 },
      { t: 100, v: 5 },
    ];
    const g = sparklineGeometry(samples, { width: 100, height: 20, padding: 0 });
    assert.equal(g.line, 'M0,20L50,0L100,10');
    assert.equal(g.area, 'M0,20L50,0L100,10L100,20L0,20Z');
    assert.equal(g.max, 10);
    assert.equal(g.last, 5);
  });

  test('fewer than two samples draw nothing; all-zero rates stay on the baseline', () => {
    assert.equal(sparklineGeometry([{ t: 0, v: 3 }]).line, '');
    const flat = sparklineGeometry([{ t: 0, v: 0 }, { t: 10, v: 0 }], { width: 10, height: 10, padding: 0 });
    assert.equal(flat.line, 'M0,10L10,10');
  });

  test('summary text', () => {
    assert.equal(sparklineSummary([]), 'Throughput: not enough updates yet.');
    assert.equal(sparklineSummary([{ t: 0, v: 20 }, { t: 1, v: 12 }]), 'Throughput latest 12 items/s, peak 20 items/s.');
  });
});

describe('chartAxes', () => {
  test('peak rate and 0 on the rate axis, time since the run started on the time axis', () => {
    const samples = [{ t: 11_000, v: 5 }, { t: 41_000, v: 20 }, { t: 101_000, v: 10 }];
    assert.deepEqual(chartAxes(samples, 1_000), { peak: '20 items/s', zero: '0', from: '10 s', to: '1 min 40 s' });
  });

  test('without a start the first sample is 0 s; fewer than two samples label nothing', () => {
    assert.equal(chartAxes([{ t: 5_000, v: 1 }, { t: 65_000, v: 2 }]).from, '0 s');
    assert.deepEqual(chartAxes([{ t: 5_000, v: 1 }]), { peak: '', zero: '', from: '', to: '' });
  });
});
