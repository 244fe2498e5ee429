// For progress/tests/test_display_rules.py: format.js's answers for the inputs on stdin
// ({"durations_s": [...], "percentages": [...]}), as JSON on stdout. Run with setup.mjs.
import { readFileSync } from 'node:fs';

import { formatDuration, percentValue } from '../../static/progress/format.js';

const inputs = JSON.parse(readFileSync(0, 'utf8'));
process.stdout.write(
  JSON.stringify({
    durations: inputs.durations_s.map((s) => formatDuration(s * 1000)),
    percentages: inputs.percentages.map((p) => percentValue(p)),
  }),
);
