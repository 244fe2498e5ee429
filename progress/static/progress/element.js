// <progress-operation operation-id="42"></progress-operation>
//
// One run, live, anywhere: a list page, a Django admin change form, a dashboard.
// All elements on a page share one ProgressClient (one socket to /ws/progress/?view=shown),
// which shows the runs of the elements on the page and receives only those: a page of
// elements costs the server what it shows, not every run a staff user may see.
// Rendering happens in an open shadow root with progress.css, so the host page's
// styles (the admin's, say) neither break it nor are broken by it.

import { ProgressClient } from './client.js';
import { connectionText, createRunCard, h, setAttr, setHidden, setText } from './render.js';
import { isActive } from './state.js';

export const TAG_NAME = 'progress-operation';
// Elapsed time and ETA move with the clock, not only with messages.
const TICK_MS = 1000;
const STYLESHEET_URL = new URL('./progress.css', import.meta.url).href;

let shared = null;
// Elements on the page per run id: a run is unfollowed when its last element leaves.
const elementsPerRun = new Map();

/** The client every element uses; created and connected on first use. */
export function sharedClient() {
  if (!shared) shared = new ProgressClient({ view: 'shown' }).connect();
  return shared;
}

/** Show a run for one more element (the client sends one show message per burst). */
export function showRun(client, id) {
  elementsPerRun.set(id, (elementsPerRun.get(id) ?? 0) + 1);
  client.follow(id);
}

/** One element fewer shows the run; the last one stops following it. */
export function hideRun(client, id) {
  const left = (elementsPerRun.get(id) ?? 1) - 1;
  if (left > 0) elementsPerRun.set(id, left);
  else {
    elementsPerRun.delete(id);
    client.unfollow?.(id);
  }
}

/** Use this client for elements instead (a page that already has one, or a test). */
export function setSharedClient(client) {
  shared = client;
}

// Outside a browser (Node tests import this module) there is no HTMLElement.
const BaseElement = globalThis.HTMLElement ?? class {};

export class ProgressOperationElement extends BaseElement {
  static observedAttributes = ['operation-id'];

  connectedCallback() {
    if (!this.shadowRoot) this._build();
    this._unsubscribe?.();
    const client = sharedClient();
    if (this._shownId != null) hideRun(client, this._shownId);
    this._shownId = this.operationId;
    showRun(client, this._shownId);
    this._unsubscribe = client.subscribe((_store, changed, state) => {
      if (changed.length === 0 || changed.includes(this.operationId)) this._render(state);
    });
    clearInterval(this._tick);
    this._tick = setInterval(() => this._render(client.state), TICK_MS);
  }

  disconnectedCallback() {
    this._unsubscribe?.();
    this._unsubscribe = null;
    if (this._shownId != null) hideRun(sharedClient(), this._shownId);
    this._shownId = null;
    clearInterval(this._tick);
  }

  attributeChangedCallback() {
    if (!this.isConnected || !this._unsubscribe) return;
    if (this._shownId !== this.operationId) {
      if (this._shownId != null) hideRun(sharedClient(), this._shownId);
      this._shownId = this.operationId;
      showRun(sharedClient(), this._shownId);
    }
    this._render(sharedClient().state);
  }

  get operationId() {
    return Number(this.getAttribute('operation-id'));
  }

  _build() {
    const root = this.attachShadow({ mode: 'open' });
    const doc = this.ownerDocument;
    this._card = createRunCard(doc, { tag: 'div' });
    this._placeholder = h(doc, 'p', { class: 'run__placeholder', role: 'status' });
    root.append(
      h(doc, 'link', { rel: 'stylesheet', href: STYLESHEET_URL }),
      h(doc, 'div', { class: 'embed' }, this._placeholder, this._card.root),
    );
  }

  _render(state) {
    const op = sharedClient().getOperation(this.operationId);
    if (op) {
      this._card.update(op, Date.now());
      setAttr(this, 'data-status', op.status);
      if (!isActive(op)) clearInterval(this._tick); // final: nothing moves any more
    }
    setHidden(this._card.root, !op);
    setHidden(this._placeholder, Boolean(op));
    if (!op) {
      const text =
        state === 'refused'
          ? `Run #${this.operationId}: ${connectionText(state, sharedClient().refusal)}`
          : `Run #${this.operationId}: loading…`;
      setText(this._placeholder, text);
    }
  }
}

if (globalThis.customElements && !globalThis.customElements.get(TAG_NAME)) {
  globalThis.customElements.define(TAG_NAME, ProgressOperationElement);
}
