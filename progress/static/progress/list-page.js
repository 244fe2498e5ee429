// The runs page: live list of runs (active first), filters, paging, start forms.
// The server renders the same page without JavaScript; start(document), called by the
// page's module script, makes it live. Importing this module does nothing.
//
// The socket is a shown view (issue 26): it carries the runs this page shows, and the
// server's summaries name runs that started since. On the first page, read from the top,
// those appear at once, as every run did when the socket carried them all; elsewhere the
// page says "N new runs" with a link to them.

import { CONNECTION_STATES, MAX_SHOWN_RUNS, ProgressClient } from './client.js';
import { setUpStartForms } from './start-forms.js';
import { filtersQuery, readFilters } from './filters.js';
import {
  bindConnectionIndicator,
  createRunCard,
  h,
  readJsonScript,
  reorderChildren,
  setAttr,
  setHidden,
  setText,
} from './render.js';
import { describeRun, pageGroups, runLabel, SLOW_FACTOR, usualModel } from './run-list.js';
import { ShownView } from './shown-view.js';
import { isActive, runStatusText, runTitle } from './state.js';

// Elapsed times and ETAs move with the clock between messages.
const TICK_MS = 1000;
// How long a newly arrived run is highlighted.
const NEW_RUN_HIGHLIGHT_MS = 4000;
// The search waits for a pause in typing before touching the URL.
const URL_UPDATE_DELAY_MS = 300;
// Scrolled further down than this, the reader is not at the top: new runs wait for a click.
const TOP_OF_PAGE_PX = 200;

/** "1 new run", "3 new runs", "100+ new runs": what a shown view's summary counted. */
export function newRunsText(count, more) {
  return `${count}${more ? '+' : ''} new run${count === 1 && !more ? '' : 's'}`;
}

/** Makes the runs page in `doc` live; returns its client. */
export function start(doc = globalThis.document) {
  const config = readJsonScript(doc, 'list-config') ?? {};
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
  const runList = doc.querySelector('[data-run-list]');
  const filterForm = doc.querySelector('[data-filters]');
  const pager = {
    older: doc.querySelector('[data-older]'),
    newer: doc.querySelector('[data-newer]'),
    searchAll: doc.querySelector('[data-search-all]'),
  };

  // Descriptions the server wrote (with the scope, which frames do not carry), by run id.
  const descriptions = new Map(Object.entries(config.descriptions ?? {}).map(([id, text]) => [Number(id), text]));
  const page = {
    firstPage: config.firstPage !== false,
    floor: config.floor ?? 0,
    ceiling: config.ceiling ?? null,
    serverIds: new Set(descriptions.keys()),
    serverFilters: {
      status: config.filters?.status ?? '',
      q: config.filters?.q ?? '',
      failures: Boolean(config.filters?.failures),
    },
  };
  const typical = config.typical ?? {};
  const typicalRates = config.typicalRates ?? {};
  const slowFactor = config.slowFactor ?? SLOW_FACTOR;
  // The server's link to the next older page; without one there is none (yet).
  const olderHref = pager.older?.hidden ? null : pager.older?.getAttribute('href') ?? null;

  const cards = new Map(); // run id -> {root, update, extras}
  const lastStatus = new Map(); // run id -> status last rendered, to announce endings
  const asked = new Set(); // run ids whose description was asked of the server
  let filters = filterForm ? formFilters() : readFilters(location.search);
  let ready = false; // the page's own runs are neither highlighted nor announced

  const initial = readJsonScript(doc, 'initial-operations') ?? [];
  const client = new ProgressClient({ initial, view: 'shown' });
  bindConnectionIndicator(doc.querySelector('[data-connection-state]'), client);
  const newRuns = {
    box: doc.querySelector('[data-new-runs]'),
    text: doc.querySelector('[data-new-runs-text]'),
  };
  // What this page shows: the server's rows, then new ones as summaries name them.
  const view = new ShownView(client, {
    runs: initial.map((op) => op.id),
    filters: page.serverFilters,
    since: config.newestId ?? 0,
    limit: MAX_SHOWN_RUNS,
    autoShow: () => page.firstPage && sameAsServer(filters) && (globalThis.scrollY ?? 0) < TOP_OF_PAGE_PX,
  });
  view.onChange(({ pending, more }) => {
    setText(newRuns.text, pending ? newRunsText(pending, more) : '');
    setHidden(newRuns.box, !pending);
  });

  // Updates can arrive many times a second across many runs: collect them and paint once
  // per frame (and not at all in a background tab, which catches up when shown).
  const pending = new Set();
  let frame = null;

  client.subscribe((_store, changed) => {
    if (changed.length === 0) {
      tick(); // a connection change: grey out or resume at once, not at the next tick
      return;
    }
    for (const id of changed) pending.add(id);
    if (!ready) paint(); // the page's own runs: at once, before first paint
    else frame ??= requestAnimationFrame(paint);
  });
  // Runs from the page itself are not news; everything after them is.
  layout();
  ready = true;

  setupFilters();
  setUpStartForms(doc);
  setInterval(tick, TICK_MS);
  client.connect();

  function describe(op) {
    // Until the server describes a run that started after the page loaded (layout() asks
    // for the ones shown), its description is built from the frame, without parameters.
    return descriptions.get(op.id) ?? describeRun(op, { titles: config.titles ?? {}, user: config.user ?? null });
  }

  /** The server's description of a run that started after the page loaded (once per run). */
  async function fetchDescription(id) {
    if (asked.has(id)) return;
    asked.add(id);
    try {
      const response = await fetch(`${location.pathname}${filtersQuery({ q: `#${id}` })}`, {
        headers: { Accept: 'application/json' },
        credentials: 'same-origin',
      });
      if (!response.ok) return;
      const body = await response.json();
      const run = (Array.isArray(body?.runs) ? body.runs : []).find((entry) => entry?.id === id);
      if (typeof run?.description !== 'string') return;
      descriptions.set(id, run.description);
      pending.add(id);
      frame ??= requestAnimationFrame(paint);
    } catch {
      // The frame's description stays; it names the pipeline and the file.
    }
  }

  function paint() {
    frame = null;
    const now = Date.now();
    const changed = [...pending].map((id) => client.getOperation(id)).filter(Boolean);
    pending.clear();
    for (const op of changed) updateCard(cardFor(op), op, now);
    layout();
    // After layout: only runs this page shows are news to its reader.
    for (const op of changed) noteTransition(op, cards.get(op.id));
  }

  function cardFor(op) {
    let card = cards.get(op.id);
    if (!card) {
      card = createRunCard(doc, { tag: 'li' });
      card.extras = addExtras(card.root);
      cards.set(op.id, card);
      if (ready) highlight(card.root);
    }
    return card;
  }

  /** The description, usual duration and slow flag beside render.js's card. */
  function addExtras(root) {
    const description = h(doc, 'p', { class: 'run__description', 'data-testid': 'description' });
    const usual = h(doc, 'span', { 'data-testid': 'usual' });
    const slow = h(doc, 'strong', { class: 'run__slow', 'data-testid': 'slow', hidden: true }, 'Slower than usual');
    const usualLine = h(doc, 'p', { class: 'run__usual' }, usual, ' ', slow);
    root.querySelector('.run__head').after(description, usualLine);
    return { description, usual, slow, usualLine, link: root.querySelector('.run__name') };
  }

  function updateCard(card, op, now) {
    card.update(op, now);
    const text = describe(op);
    const { description, usual, slow, usualLine, link } = card.extras;
    setText(description, text);
    setHidden(description, !text);
    setAttr(link, 'aria-label', runLabel(op, text));
    const expected = { seconds: typical[op.operation_name], rate: typicalRates[op.operation_name] };
    const model = usualModel(op, expected, slowFactor);
    setText(usual, model.text);
    setHidden(slow, !model.slow);
    setHidden(usualLine, !model.text);
  }

  function noteTransition(op, card) {
    const before = lastStatus.get(op.id);
    lastStatus.set(op.id, op.status);
    // Runs filtered out of view are not news to this reader either.
    if (!ready || before === op.status || !card.root.isConnected) return;
    if (before === undefined && isActive(op)) announce(`${runTitle(op)} #${op.id} started.`);
    else if (before !== undefined && !isActive(op)) {
      announce(`${runTitle(op)} #${op.id}: ${runStatusText(op).toLowerCase()}.`);
      highlight(card.root);
    }
  }

  /** Put every card in its section, in order, and show counts, empty states and paging. */
  function layout() {
    const groups = pageGroups(client.operations(), { filters, page, describe });
    const filtered = Boolean(filters.status || filters.q || filters.failures);
    for (const name of ['active', 'recent']) {
      if (!lists[name]) continue;
      const ops = groups[name];
      for (const op of ops) if (!descriptions.has(op.id)) fetchDescription(op.id);
      reorderChildren(lists[name], ops.map((op) => cardFor(op).root));
      setText(counts[name], ops.length ? `(${ops.length})` : '');
      setHidden(empties[name], ops.length > 0);
      setText(
        empties[name],
        filtered ? 'No runs match these filters.' : name === 'active' ? 'No runs in progress.' : 'No finished runs yet.',
      );
    }
    layoutPager(groups);
  }

  function sameAsServer(shown) {
    return (
      shown.status === page.serverFilters.status &&
      shown.q === page.serverFilters.q &&
      Boolean(shown.failures) === page.serverFilters.failures
    );
  }

  function layoutPager(groups) {
    const sameFilters = sameAsServer(filters);
    // Filters typed here only narrow what is loaded: the server searches the whole history.
    setHidden(pager.searchAll, sameFilters);
    if (pager.searchAll) setAttr(pager.searchAll, 'href', `${location.pathname}${filtersQuery(filters)}`);
    setHidden(pager.newer, !sameFilters);
    if (!pager.older) return;
    // New runs push the oldest off a long-open first page: page on from the oldest shown.
    const more = Boolean(olderHref) || (page.firstPage && groups.cut);
    setHidden(pager.older, !sameFilters || !more);
    if (page.firstPage && more && groups.lowest != null) {
      setAttr(pager.older, 'href', `${location.pathname}${filtersQuery(filters, { before: groups.lowest })}`);
    }
  }

  function tick() {
    // Not live (silent, reconnecting, offline, signed out): running rows grey out, their
    // clocks stop where the last frame left them and nothing is called slower than usual,
    // since none of it is known; when frames resume, the client resyncs and clocks go on.
    const live = client.state === CONNECTION_STATES.CONNECTED;
    setAttr(runList, 'data-silent', live ? null : 'true');
    if (!live) {
      for (const card of cards.values()) setHidden(card.extras.slow, true);
      return;
    }
    const now = Date.now();
    for (const op of client.operations()) {
      const card = cards.get(op.id);
      if (isActive(op) && card?.root.isConnected) updateCard(card, op, now);
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
    // Submitting (Search, or Enter) asks the server, which searches every run.
  }

  function formFilters() {
    return readFilters(new URLSearchParams(new FormData(filterForm)));
  }

  return client;
}
