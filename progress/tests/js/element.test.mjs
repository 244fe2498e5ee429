import assert from 'node:assert/strict';
import { test } from 'node:test';

import { hideRun, showRun } from '../../static/progress/element.js';

function recordingClient() {
  const calls = [];
  return { calls, follow: (id) => calls.push(['follow', id]), unfollow: (id) => calls.push(['unfollow', id]) };
}

test('a run stays shown until the last element showing it leaves the page', () => {
  const client = recordingClient();
  showRun(client, 41);
  showRun(client, 41); // a second element of the same run (the admin row and a change form)
  hideRun(client, 41);
  assert.deepEqual(client.calls, [
    ['follow', 41],
    ['follow', 41],
  ]);
  hideRun(client, 41);
  assert.deepEqual(client.calls.at(-1), ['unfollow', 41]);
});
