// The demo project's /progress/vue/ page (templates/demo/vue.html): the visible runs as <ProgressBar>s, live, from the
// Pinia store over a shown view (new runs appear as the server's summaries name them). Runs rendered into the page (json_script "initial-operations") show at
// once; the socket brings the rest.

import { createApp, h } from 'vue';

import { bindConnectionIndicator, connectionText, detailUrl, readJsonScript } from '../progress/render.js';
import { ShownView } from '../progress/shown-view.js';
import { install, ProgressBar, useProgressStore } from '../progress/vue/index.js';

const doc = document;
const root = doc.querySelector('[data-vue-app]');
// "big.csv → kidney-genetics" per run rendered into the page; runs that start later show
// the files their frames name (frames carry no parameters, so no scope).
const descriptions = readJsonScript(doc, 'vue-descriptions') ?? {};

function inputsText(op) {
  if (descriptions[op.id]) return descriptions[op.id];
  const entries = Array.isArray(op.metadata?.files) ? op.metadata.files : [];
  return entries.filter((entry) => entry?.kind === 'upload' && entry.label).map((entry) => entry.label).join(', ');
}

/** One row: the live card, then a link to the run's page saying what it read. */
function runRow(op, store) {
  const inputs = inputsText(op);
  return h('li', { key: op.id, class: 'vue-run', 'data-testid': `vue-row-${op.id}` }, [
    h(ProgressBar, { operationId: op.id, store, tag: 'div' }),
    h('p', { class: 'run__description' }, [
      h('a', { href: detailUrl(op.id), 'data-testid': 'vue-run-link' }, inputs ? `${inputs} · open run #${op.id}` : `Open run #${op.id}`),
    ]),
  ]);
}

const DemoApp = {
  name: 'ProgressVueDemo',
  setup() {
    const store = useProgressStore();
    return () => {
      const runs = store.list;
      const active = store.activeOperations.length;
      return h('div', { class: 'vue-demo' }, [
        h('p', { class: 'muted' }, [
          'Live connection: ',
          h(
            'span',
            {
              class: 'connection',
              'data-testid': 'vue-connection-state',
              'data-state': store.connectionState,
              'data-connection-state': store.connectionState,
              'data-refusal': store.refusal ?? undefined,
            },
            [
              h('span', { class: 'connection__dot', 'aria-hidden': 'true' }),
              h('span', {}, connectionText(store.connectionState, store.refusal)),
            ],
          ),
          ' · ',
          h('span', { 'data-testid': 'vue-active-count' }, `${active} active`),
          ` · ${runs.length} shown`,
        ]),
        runs.length
          ? h(
              'ol',
              { class: 'run-list', 'data-testid': 'vue-runs', 'aria-label': 'Runs' },
              runs.map((op) => runRow(op, store)),
            )
          : h('p', { class: 'empty', 'data-testid': 'vue-empty' }, 'No runs yet.'),
      ]);
    };
  },
};

// Runs the page keeps live at most; a new run pushes the oldest shown out.
const SHOWN_LIMIT = 100;

if (root) {
  const app = createApp(DemoApp);
  const initial = readJsonScript(doc, 'initial-operations') ?? [];
  // A shown view: the socket carries the runs on this page, and summaries name new ones,
  // which are shown at once (progress/shown-view.js), not every state of every run.
  const store = install(app, { connect: { initial, view: 'shown' } });
  new ShownView(store.getClient(), { runs: initial.map((op) => op.id), filters: {}, limit: SHOWN_LIMIT });
  // The header's indicator and the signed-out alert, as on the other pages (queried
  // before mounting, so it is the header's and not the demo's own indicator).
  bindConnectionIndicator(doc.querySelector('.site-header [data-connection-state]'), store.getClient());
  root.replaceChildren();
  app.mount(root);
}
