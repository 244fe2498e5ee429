// For progress/tests/test_display_rules.py: the JS display rules' answers for the inputs on
// stdin ({"durations_s", "percentages", "counts", "slowness"}), as JSON on stdout. Run with
// setup.mjs.
import { readFileSync } from 'node:fs';

import { formatDuration, percentValue } from '../../static/progress/format.js';
import { countsText, resultText } from '../../static/progress/render.js';
import { usualModel } from '../../static/progress/run-list.js';

const inputs = JSON.parse(readFileSync(0, 'utf8'));
process.stdout.write(
  JSON.stringify({
    durations: inputs.durations_s.map((s) => formatDuration(s * 1000)),
    percentages: inputs.percentages.map((p) => percentValue(p)),
    counts: (inputs.counts ?? []).map((op) => countsText(op, 'en-US')),
    results: (inputs.counts ?? []).map((op) => resultText(op, 'en-US')),
    slowness: (inputs.slowness ?? []).map(([rate, typical]) =>
      usualModel({ status: 'running', rate }, { seconds: 60, rate: typical }).slow,
    ),
  }),
);
