// <ProgressBar :operation="op" /> or <ProgressBar :operation-id="42" />: one run, live.
//
// A render-function component (no template compiler needed, so it runs on Vue's
// runtime-only build and under a CSP without 'unsafe-eval'). Markup and classes are the
// runs page's (progress.css: .run, .badge, .bar, .bar__fill, …), so it looks the same.

import { computed, h, onMounted, onUnmounted, ref, watch } from 'vue';

import { detailUrl } from '../render.js';
import { runView } from './runView.js';
import { useProgressStore } from './store.js';

// Elapsed time and ETA move with the clock, not only with messages.
export const TICK_MS = 1000;

// One timer for every mounted bar, running only while at least one is mounted.
const sharedNow = ref(Date.now());
let tickUsers = 0;
let tickTimer = null;

/** The shared clock; not started for a bar given a fixed `now` (tests, snapshots). */
function useNow(props) {
  let ticking = false;
  onMounted(() => {
    if (props.now != null) return;
    ticking = true;
    tickUsers += 1;
    if (tickTimer == null) {
      sharedNow.value = Date.now();
      tickTimer = setInterval(() => {
        sharedNow.value = Date.now();
      }, TICK_MS);
    }
  });
  onUnmounted(() => {
    if (!ticking) return;
    tickUsers -= 1;
    if (tickUsers === 0 && tickTimer != null) {
      clearInterval(tickTimer);
      tickTimer = null;
    }
  });
  return sharedNow;
}

function countNode(testid, value, word) {
  return h('span', {}, [
    h('span', { 'data-testid': testid, 'data-value': value.value ?? '' }, value.text),
    ` ${word}`,
  ]);
}

function renderRun(view, tag) {
  const head = h('div', { class: 'run__head' }, [
    h('h3', { class: 'run__title' }, [
      view.href
        ? h('a', { class: 'run__name', href: view.href, 'data-testid': 'name' }, view.title)
        : h('span', { class: 'run__name', 'data-testid': 'name' }, view.title),
      ' ',
      h('span', { class: 'run__id' }, `#${view.id}`),
    ]),
    h('span', { class: 'badge', 'data-status': view.status }, [
      h('span', { class: 'badge__icon', 'aria-hidden': 'true' }, view.icon),
      h('span', { class: 'badge__text', 'data-testid': 'status' }, view.statusText),
    ]),
    view.note ? h('span', { class: 'run__note', 'data-testid': 'late-cancel' }, view.note) : null,
    view.elapsed ? h('span', { class: 'run__time', 'data-testid': 'elapsed' }, view.elapsed) : null,
  ]);

  const { bar } = view;
  const barNode = h(
    'div',
    {
      class: ['bar', { 'is-indeterminate': bar.indeterminate, 'is-animated': bar.animated }],
      role: 'progressbar',
      'aria-label': bar.label,
      'aria-valuemin': '0',
      'aria-valuemax': '100',
      // Unknown total: no aria-valuenow at all, which assistive tech reads as "busy".
      'aria-valuenow': bar.value == null ? undefined : String(bar.value),
      'aria-valuetext': bar.valueText,
      'data-status': view.status,
      'data-indeterminate': bar.indeterminate ? 'true' : undefined,
      'data-testid': 'progress-bar',
      style: bar.value == null ? undefined : { '--value': `${bar.value}%` },
    },
    [h('div', { class: 'bar__fill' })],
  );

  const facts = [
    view.stage ? h('span', { 'data-testid': 'stage' }, view.stage) : null,
    view.items
      ? h('span', { 'data-testid': 'items', title: view.items.text }, [
          h('span', { 'data-testid': 'current-item', 'data-value': view.items.current.value }, view.items.current.text),
          ...(view.items.total
            ? [' / ', h('span', { 'data-testid': 'total-items', 'data-value': view.items.total.value ?? '' }, view.items.total.text)]
            : []),
          ' items',
        ])
      : null,
    view.percent ? h('span', { 'data-testid': 'percent' }, view.percent) : null,
    view.rate ? h('span', { 'data-testid': 'rate' }, view.rate) : null,
    view.eta ? h('span', { 'data-testid': 'eta' }, view.eta) : null,
  ].filter(Boolean);

  const counts = view.counts
    ? h('p', { class: 'run__facts', 'data-testid': 'counts' }, [
        countNode('items-added', view.counts.added, 'added'),
        countNode('items-updated', view.counts.updated, 'updated'),
        countNode('items-unchanged', view.counts.unchanged, 'unchanged'),
        countNode('items-skipped', view.counts.skipped, 'skipped'),
        countNode('items-failed', view.counts.failed, 'failed'),
      ])
    : null;

  let detailTestid = 'current-operation';
  if (view.isError) detailTestid = 'error-message';
  else if (!view.active) detailTestid = 'result';
  const detail = view.detail
    ? h(
        'p',
        {
          class: ['run__detail', { 'is-error': view.isError }],
          'data-testid': detailTestid,
          title: view.detail,
          // A failure is news: announce it; progress steps would be noise.
          role: view.isError ? 'alert' : undefined,
        },
        view.detail,
      )
    : null;

  return h(
    tag,
    {
      class: ['run', { 'is-active': view.active }],
      'data-testid': `vue-run-${view.id}`,
      'data-status': view.status,
    },
    [head, barNode, facts.length ? h('p', { class: 'run__facts' }, facts) : null, counts, detail],
  );
}

export const ProgressBar = {
  name: 'ProgressBar',
  props: {
    /** A run dict as the server sends it; wins over operationId. */
    operation: { type: Object, default: null },
    /** A run id (or an operation_name: its newest run), looked up in the store. */
    operationId: { type: [Number, String], default: null },
    /** The store to read from (default: useProgressStore()). */
    store: { type: Object, default: null },
    /** The root element: 'article' alone, 'li' inside a list. */
    tag: { type: String, default: 'article' },
    /** Where the title links to, per id; null for no link (another origin). */
    href: { type: Function, default: detailUrl },
    /** Milliseconds since the epoch to render at; default: the clock, every second. */
    now: { type: Number, default: null },
    /** Number formatting locale; default: the browser's. */
    locale: { type: String, default: undefined },
  },
  setup(props) {
    const clock = useNow(props);
    // Only reach for Pinia when a run has to be looked up: with `operation` the
    // component works in an app without a store.
    let store = props.store;
    if (!store && props.operation == null) store = useProgressStore();

    watch(
      () => props.operationId,
      (id) => {
        if (id != null) store?.follow?.(id);
      },
      { immediate: true },
    );

    const op = computed(() => {
      if (props.operation) return props.operation;
      if (props.operationId == null || !store) return null;
      return store.getOperation(props.operationId);
    });

    return () => {
      const run = op.value;
      if (!run) {
        const label = props.operationId ?? '';
        const name = typeof label === 'number' || /^\d+$/.test(label) ? `#${label}` : label;
        return h(
          props.tag,
          { class: 'run', 'data-testid': `vue-run-${label}`, 'data-status': 'unknown' },
          [h('p', { class: 'run__placeholder', 'data-testid': 'placeholder' }, `Waiting for run ${name}…`)],
        );
      }
      const view = runView(run, props.now ?? clock.value, { locale: props.locale, href: props.href });
      return renderRun(view, props.tag);
    };
  },
};

export default ProgressBar;
