// The runs page: live list of runs (active first), client-side filters, start forms.

import { ProgressClient } from './client.js';
import { filtersQuery, matchesFilters, partitionRuns, readFilters } from './filters.js';
import {
  bindConnectionIndicator,
  createRunCard,
  readJsonScript,
  reorderChildren,
  setHidden,
  setText,
} from './render.js';
import { isActive, statusLabel } from './state.js';

// Elapsed times and ETAs move with the clock between messages.
const TICK_MS = 1000;
// How long a newly arrived run is highlighted.
const NEW_RUN_HIGHLIGHT_MS = 4000;
// The name filter waits for a pause in typing before touching the URL.
const URL_UPDATE_DELAY_MS = 300;

const doc = document;
const lists = {
  active: doc.querySelector('[data-runs="active"]'),
  recent: doc.querySelector('[data-runs="recent"]'),
};
const empties = {
  active: doc.querySelector('[data-empty="active"]'),
  recent: doc.querySelector('[data-empty="recent"]'),
};
const counts = {
  active: doc.querySelector('[data-count="active"]'),
  recent: doc.querySelector('[data-count="recent"]'),
};
const announcer = doc.querySelector('[data-announcer]');
const filterForm = doc.querySelector('[data-filters]');

const cards = new Map(); // run id -> {root, update}
const lastStatus = new Map(); // run id -> status last rendered, to announce endings
// The form holds the server-rendered filters (from the GET params) and is the truth.
let filters = filterForm ? formFilters() : readFilters(location.search);
let ready = false; // the page's own runs are neither highlighted nor announced

const client = new ProgressClient({ initial: readJsonScript(doc, 'initial-operations') ?? [] });
bindConnectionIndicator(doc.querySelector('[data-connection-state]'), client);

// Updates can arrive many times a second across many runs: collect them and paint once
// per frame (and not at all in a background tab, which catches up when shown).
const pending = new Set();
let frame = null;

client.subscribe((_store, changed) => {
  if (changed.length === 0) return; // connection-only change; the indicator handles it
  for (const id of changed) pending.add(id);
  if (!ready) paint(); // the page's own runs: at once, before first paint
  else frame ??= requestAnimationFrame(paint);
});
// Runs from the page itself are not news; everything after them is.
layout();
ready = true;

setupFilters();
setupStartForms();
setInterval(tick, TICK_MS);
client.connect();

function paint() {
  frame = null;
  const now = Date.now();
  for (const id of pending) {
    const op = client.getOperation(id);
    const card = cardFor(op);
    card.update(op, now);
    noteTransition(op, card);
  }
  pending.clear();
  layout();
}

function cardFor(op) {
  let card = cards.get(op.id);
  if (!card) {
    card = createRunCard(doc, { tag: 'li' });
    cards.set(op.id, card);
    if (ready) highlight(card.root);
  }
  return card;
}

function noteTransition(op, card) {
  const before = lastStatus.get(op.id);
  lastStatus.set(op.id, op.status);
  // Runs filtered out of view are not news to this reader either.
  if (!ready || before === op.status || !matchesFilters(op, filters)) return;
  if (before === undefined && isActive(op)) announce(`${op.operation_name} #${op.id} started.`);
  else if (before !== undefined && !isActive(op)) {
    announce(`${op.operation_name} #${op.id}: ${statusLabel(op.status).toLowerCase()}.`);
    highlight(card.root);
  }
}

/** Put every card in its section, in order, and show counts and empty states. */
function layout() {
  const groups = partitionRuns(client.operations(), filters);
  const filtered = Boolean(filters.status || filters.name);
  for (const name of ['active', 'recent']) {
    const ops = groups[name];
    reorderChildren(lists[name], ops.map((op) => cards.get(op.id).root));
    setText(counts[name], ops.length ? `(${ops.length})` : '');
    setHidden(empties[name], ops.length > 0);
    setText(
      empties[name],
      filtered ? 'No runs match these filters.' : name === 'active' ? 'No runs in progress.' : 'No finished runs yet.',
    );
  }
}

function tick() {
  const now = Date.now();
  for (const op of client.operations()) {
    if (isActive(op) && matchesFilters(op, filters)) cards.get(op.id)?.update(op, now);
  }
}

function highlight(node) {
  node.classList.add('is-new');
  setTimeout(() => node.classList.remove('is-new'), NEW_RUN_HIGHLIGHT_MS);
}

function announce(text) {
  // Clear first so the same sentence twice is still announced.
  setText(announcer, '');
  requestAnimationFrame(() => setText(announcer, text));
}

function setupFilters() {
  if (!filterForm) return;
  // Live filtering makes the submit button redundant with JavaScript on.
  setHidden(filterForm.querySelector('[data-filters-submit]'), true);
  let urlTimer = null;
  const apply = () => {
    filters = formFilters();
    layout();
    clearTimeout(urlTimer);
    // Keep the URL shareable and reload-proof without a history entry per keystroke.
    urlTimer = setTimeout(() => {
      history.replaceState(null, '', `${location.pathname}${filtersQuery(filters)}${location.hash}`);
    }, URL_UPDATE_DELAY_MS);
  };
  filterForm.addEventListener('input', apply);
  filterForm.addEventListener('change', apply);
  filterForm.addEventListener('submit', (event) => {
    event.preventDefault();
    apply();
  });
}

function formFilters() {
  return readFilters(new URLSearchParams(new FormData(filterForm)));
}

function setupStartForms() {
  const section = doc.querySelector('[data-start-url-template]');
  if (!section) return;
  const template = section.dataset.startUrlTemplate;
  for (const form of section.querySelectorAll('form[data-pipeline]')) {
    if (!form.getAttribute('action') && template) {
      form.setAttribute('action', template.replace('NAME', encodeURIComponent(form.dataset.pipeline)));
    }
    // Coming back with the Back button restores the page as it was left: re-enable.
    addEventListener('pageshow', () => {
      const button = form.querySelector('button[type="submit"]');
      if (button?.disabled) {
        button.disabled = false;
        button.textContent = button.dataset.label ?? button.textContent;
      }
    });
    // One click, one run: a slow server must not turn impatience into duplicates.
    form.addEventListener('submit', () => {
      const button = form.querySelector('button[type="submit"]');
      if (!button) return;
      // Disable after the browser has collected the form data (a disabled button's
      // name/value would otherwise be left out).
      button.dataset.label ??= button.textContent;
      setTimeout(() => {
        button.disabled = true;
        button.textContent = 'Starting…';
      });
    });
  }
}
