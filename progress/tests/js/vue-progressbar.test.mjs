// <ProgressBar> (progress/static/progress/vue/ProgressBar.js) rendered by the vendored Vue runtime
// into a tiny in-memory tree (Vue's createRenderer), so Node can read what a browser
// would get: data-testids, text, ARIA attributes, classes. 'vue' and 'pinia'
// resolve to progress/static/progress/vendor/ through vendored-vue.mjs.

import './vendored-vue.mjs';
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';

import { FakeClock, FakeWebSocket, fakeEnvironment, op } from './fakes.mjs';

const { createRenderer, h, nextTick, reactive } = await import('vue');
const { createPinia } = await import('pinia');
const { ProgressBar } = await import('../../static/progress/vue/ProgressBar.js');
const { install, ProgressPlugin, useProgressStore } = await import('../../static/progress/vue/index.js');

// --- a minimal tree for Vue's custom renderer -------------------------------------

function node(type, extra) {
  return { type, parent: null, children: [], attrs: {}, text: '', ...extra };
}

const nodeOps = {
  createElement: (tag) => node('element', { tag }),
  createText: (text) => node('text', { text }),
  createComment: (text) => node('comment', { text }),
  setText: (n, text) => {
    n.text = text;
  },
  setElementText: (el, text) => {
    el.children = text ? [Object.assign(node('text', { text }), { parent: el })] : [];
  },
  insert: (child, parent, anchor) => {
    if (child.parent) nodeOps.remove(child);
    const at = anchor ? parent.children.indexOf(anchor) : -1;
    if (at < 0) parent.children.push(child);
    else parent.children.splice(at, 0, child);
    child.parent = parent;
  },
  remove: (child) => {
    const siblings = child.parent?.children;
    if (siblings) siblings.splice(siblings.indexOf(child), 1);
    child.parent = null;
  },
  parentNode: (n) => n.parent,
  nextSibling: (n) => {
    const siblings = n.parent?.children ?? [];
    return siblings[siblings.indexOf(n) + 1] ?? null;
  },
};

function patchProp(el, key, _prev, next) {
  if (key === 'style') {
    el.style = next ? { ...next } : {};
    return;
  }
  if (next == null || next === false) delete el.attrs[key];
  else el.attrs[key] = String(next);
}

const { createApp } = createRenderer({ ...nodeOps, patchProp });

function textOf(n) {
  if (n.type === 'text') return n.text;
  if (n.type === 'comment') return '';
  return n.children.map(textOf).join('');
}

function all(root, predicate, found = []) {
  if (root.type === 'element' && predicate(root)) found.push(root);
  for (const child of root.children) all(child, predicate, found);
  return found;
}

function byTestId(root, id) {
  return all(root, (n) => n.attrs['data-testid'] === id)[0] ?? null;
}

function classes(n) {
  return (n.attrs.class ?? '').split(/\s+/).filter(Boolean);
}

/** Mount a component into a fresh tree; returns {root, app}. */
function mount(component, props, { pinia } = {}) {
  const root = node('element', { tag: 'root' });
  const app = createApp(component, props);
  if (pinia) app.use(pinia);
  app.mount(root);
  return { root, app };
}

const NOW = Date.parse('2024-01-01T00:10:00Z');

function renderRun(overrides, props = {}) {
  const { root, app } = mount(ProgressBar, { operation: op({ id: 7, ...overrides }), now: NOW, ...props });
  const card = byTestId(root, 'vue-run-7');
  assert.ok(card, 'renders data-testid="vue-run-7"');
  return { root, app, card, get: (id) => byTestId(card, id), text: (id) => textOf(byTestId(card, id) ?? node('text')) };
}

beforeEach(() => FakeWebSocket.reset());

describe('ProgressBar with an operation prop', () => {
  test('a running run: name, status, bar with integer aria-valuenow, items, counts, stage, rate, ETA', () => {
    const { card, get, text, app } = renderRun({
      operation_name: 'import_genes',
      current_operation: 'Importing BRCA1',
      progress_percentage: 42.7,
      current_item: 427,
      total_items: 1000,
      items_added: 1200,
      items_updated: 3,
      items_failed: 2,
      rate: 12.4,
      estimated_completion: '2024-01-01T00:12:00Z',
      metadata: { stage: { index: 2, count: 3, name: 'Import genes' } },
    });
    assert.equal(card.tag, 'article');
    assert.ok(classes(card).includes('run'));
    assert.ok(classes(card).includes('is-active'));
    assert.equal(card.attrs['data-status'], 'running');
    assert.equal(text('name'), 'import_genes');
    assert.equal(get('name').attrs.href, '/progress/7/');
    assert.equal(text('status'), 'Running');

    const bar = get('progress-bar');
    assert.ok(classes(bar).includes('bar'));
    assert.ok(!classes(bar).includes('is-indeterminate'));
    assert.equal(bar.attrs.role, 'progressbar');
    assert.equal(bar.attrs['aria-valuenow'], '42');
    assert.equal(bar.attrs['aria-valuemin'], '0');
    assert.equal(bar.attrs['aria-valuemax'], '100');
    assert.equal(bar.attrs['aria-valuetext'], '42% overall — stage 2 of 3: Import genes, 427 of 1,000 items');
    assert.equal(bar.style['--value'], '42%');
    assert.ok(classes(bar.children[0]).includes('bar__fill'));

    assert.equal(text('current-item'), '427');
    assert.equal(text('total-items'), '1,000');
    assert.equal(get('total-items').attrs['data-value'], '1000');
    assert.equal(text('percent'), '42%');
    assert.equal(text('items-added'), '1,200');
    assert.equal(get('items-added').attrs['data-value'], '1200');
    assert.equal(text('items-updated'), '3');
    assert.equal(text('items-failed'), '2');
    assert.equal(text('counts'), '1,200 added3 updated0 unchanged0 skipped2 failed');
    assert.equal(text('stage'), 'Stage 2 of 3: Import genes');
    assert.equal(text('rate'), '12 items/s');
    assert.equal(text('eta'), 'About 2 min left');
    assert.equal(text('current-operation'), 'Importing BRCA1');
    assert.equal(get('error-message'), null);
    app.unmount();
  });

  test('unknown total: indeterminate bar without aria-valuenow, current item only', () => {
    const { get, text, app } = renderRun({ progress_percentage: null, current_item: 12, total_items: null });
    const bar = get('progress-bar');
    assert.equal('aria-valuenow' in bar.attrs, false);
    assert.ok(classes(bar).includes('is-indeterminate'));
    assert.ok(classes(bar).includes('is-animated'));
    assert.equal(bar.attrs['data-indeterminate'], 'true');
    assert.equal(bar.attrs['aria-valuetext'], 'In progress, total unknown — 12 items');
    assert.equal(text('current-item'), '12');
    assert.equal(get('total-items'), null);
    assert.equal(get('percent'), null);
    assert.equal(text('eta'), 'Unknown');
    app.unmount();
  });

  test('failed: status, error message (announced), no stage or ETA', () => {
    const { card, get, text, app } = renderRun({
      status: 'failed',
      is_active: false,
      error_message: 'Row 12: unknown HGNC id',
      estimated_completion: '2024-01-01T00:12:00Z',
      metadata: { stage: { index: 2, count: 3, name: 'Import' } },
      completed_at: '2024-01-01T00:05:00Z',
    });
    assert.ok(!classes(card).includes('is-active'));
    assert.equal(text('status'), 'Failed');
    assert.equal(text('error-message'), 'Row 12: unknown HGNC id');
    assert.equal(get('error-message').attrs.role, 'alert');
    assert.ok(classes(get('error-message')).includes('is-error'));
    assert.equal(get('progress-bar').attrs['data-status'], 'failed');
    assert.equal(get('stage'), null);
    assert.equal(get('eta'), null);
    assert.equal(get('rate'), null);
    assert.equal(text('elapsed'), 'took 5 min');
    app.unmount();
  });

  test('completed: full bar and the counts; no second result line', () => {
    const { text, get, app } = renderRun({
      status: 'completed',
      is_active: false,
      progress_percentage: 100,
      items_added: 5,
      items_failed: 0,
    });
    assert.equal(text('status'), 'Completed');
    assert.equal(get('progress-bar').attrs['aria-valuenow'], '100');
    assert.equal(text('counts'), '5 added0 updated0 unchanged0 skipped0 failed');
    assert.equal(get('result'), null);
    assert.equal(get('current-operation'), null);
    assert.equal(get('error-message'), null);
    app.unmount();
  });

  test('cancelled and stalled', () => {
    const cancelled = renderRun({ status: 'cancelled', is_active: false, current_item: 30, total_items: 100 });
    assert.equal(cancelled.text('status'), 'Cancelled');
    assert.equal(cancelled.text('result'), 'Stopped on request after 30 of 100 items');
    cancelled.app.unmount();

    const stalled = renderRun({ status: 'stalled', is_active: false, error_message: '' });
    assert.equal(stalled.text('status'), 'Stalled');
    assert.equal(stalled.text('error-message'), 'The run stopped responding.');
    stalled.app.unmount();
  });

  test('queued: waiting, no counts yet; a cancel request reads Cancelling…', () => {
    const { text, get, app } = renderRun({
      status: 'queued',
      progress_percentage: null,
      current_item: 0,
      total_items: null,
      cancel_requested: true,
    });
    assert.equal(text('status'), 'Cancelling…');
    assert.equal(text('eta'), 'Waiting to start');
    assert.equal(get('counts'), null);
    assert.equal(get('current-item'), null);
    assert.equal(get('late-cancel'), null);
    assert.equal(get('progress-bar').attrs['aria-valuetext'], 'Waiting to start');
    app.unmount();
  });

  test('completed with failed items: a warning badge, and a cancel that came too late', () => {
    const { text, get, app } = renderRun({
      status: 'completed',
      outcome: 'completed_with_failures',
      items_failed: 14,
      cancel_requested: true,
    });
    assert.equal(text('status'), 'Completed with 14 failures');
    assert.equal(text('late-cancel'), 'Finished before your cancel arrived');
    assert.notEqual(get('status'), null);
    app.unmount();
  });

  test('re-renders when the operation prop changes; tag and href are configurable', async () => {
    const props = reactive({ operation: op({ id: 7, progress_percentage: 10 }), now: NOW, tag: 'li', href: null });
    const { root, app } = mount({ render: () => h(ProgressBar, props) });
    const card = byTestId(root, 'vue-run-7');
    assert.equal(card.tag, 'li');
    assert.equal(byTestId(card, 'name').tag, 'span');
    assert.equal(byTestId(card, 'progress-bar').attrs['aria-valuenow'], '10');
    props.operation = op({ id: 7, seq: 2, progress_percentage: 55.9 });
    await nextTick();
    assert.equal(byTestId(root, 'progress-bar').attrs['aria-valuenow'], '55');
    app.unmount();
  });
});

describe('ProgressBar with operationId and the store', () => {
  function connectedStore() {
    const pinia = createPinia();
    const store = useProgressStore(pinia);
    const clock = new FakeClock();
    store.connect({ url: 'ws://t/ws/progress/', WebSocketImpl: FakeWebSocket, clock, ...fakeEnvironment() });
    FakeWebSocket.latest().open();
    return { pinia, store, clock, socket: FakeWebSocket.latest() };
  }

  test('shows a placeholder, follows the run, then renders and updates it from the socket', async () => {
    const { pinia, clock, socket } = connectedStore();
    const { root, app } = mount(ProgressBar, { operationId: 42, now: NOW }, { pinia });
    assert.equal(textOf(byTestId(root, 'vue-run-42')), 'Waiting for run #42…');
    clock.advance(1_000);
    assert.deepEqual(socket.sent, [{ type: 'resync', since: { 42: -1 } }], 'asks the server for run 42');

    socket.receive({ type: 'resync', operations: [op({ id: 42, seq: 3, progress_percentage: 20 })] });
    await nextTick();
    assert.equal(byTestId(root, 'progress-bar').attrs['aria-valuenow'], '20');

    socket.receive({ type: 'progress_update', data: op({ id: 42, seq: 4, progress_percentage: 64, current_item: 64 }) });
    await nextTick();
    assert.equal(byTestId(root, 'progress-bar').attrs['aria-valuenow'], '64');
    assert.equal(textOf(byTestId(root, 'current-item')), '64');

    socket.receive({ type: 'task_failed', data: op({ id: 42, seq: 5, status: 'failed', error_message: 'boom' }) });
    await nextTick();
    assert.equal(textOf(byTestId(root, 'status')), 'Failed');
    assert.equal(textOf(byTestId(root, 'error-message')), 'boom');
    app.unmount();
  });

  test('operationId may be an operation_name: its newest run', async () => {
    const { pinia, socket } = connectedStore();
    socket.receive({
      type: 'snapshot',
      operations: [
        op({ id: 1, operation_name: 'nightly', created_at: '2024-01-01T00:00:00Z' }),
        op({ id: 2, operation_name: 'nightly', created_at: '2024-01-02T00:00:00Z' }),
      ],
    });
    const { root, app } = mount(ProgressBar, { operationId: 'nightly', now: NOW }, { pinia });
    assert.ok(byTestId(root, 'vue-run-2'));
    socket.receive({ type: 'progress_update', data: op({ id: 3, operation_name: 'nightly', created_at: '2024-01-03T00:00:00Z' }) });
    await nextTick();
    assert.ok(byTestId(root, 'vue-run-3'));
    app.unmount();
  });

  test('install(): registers <ProgressBar>, adds Pinia when missing, connects when asked', () => {
    const root = node('element', { tag: 'root' });
    const app = createApp({ render: () => h('div', {}, 'x') });
    const store = install(app, {
      connect: { url: 'ws://t/ws/progress/', WebSocketImpl: FakeWebSocket, clock: new FakeClock(), ...fakeEnvironment() },
    });
    assert.ok(app.config.globalProperties.$pinia, 'Pinia installed');
    assert.equal(app.component('ProgressBar'), ProgressBar);
    assert.equal(FakeWebSocket.instances.length, 1);
    assert.equal(store.getClient().url, 'ws://t/ws/progress/');
    app.mount(root);
    app.unmount();
    store.disconnect();

    const other = createApp({ render: () => null });
    const pinia = createPinia();
    other.use(ProgressPlugin, { pinia, name: 'RunBar' });
    assert.equal(other.config.globalProperties.$pinia, pinia);
    assert.equal(other.component('RunBar'), ProgressBar);
    assert.equal(FakeWebSocket.instances.length, 1, 'no connect unless asked');
  });
});
