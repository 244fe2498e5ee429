// A page's shown view: the runs it shows, told to a ProgressClient({view: 'shown'}), and the
// new runs its summaries announce, either shown at once (a first page that grows, as the
// list did when every run streamed in) or counted for a "N new runs" link.
//
//   const view = new ShownView(client, { runs: [3, 2], filters, autoShow: () => firstPage });
//   view.onChange(({ pending }) => render(pending));

/**
 * The next state after a summary: new ids (newest first) shown at once while autoShow
 * allows and room remains, else counted as pending. Pure, for the Node tests.
 * @returns {{ shown: number[], since: number, pending: number, more: boolean, added: number[] }}
 */
export function afterSummary(state, summary, { limit, autoShow }) {
  const ids = Array.isArray(summary?.ids) ? summary.ids.filter(Number.isInteger) : [];
  const fresh = ids.filter((id) => id > state.since && !state.shown.includes(id));
  // The summary lists at most a page of ids: past that, only its count is known.
  const complete = !summary?.more && !(Number.isInteger(summary?.new) && summary.new > ids.length);
  if (autoShow && complete && fresh.length) {
    const shown = [...fresh, ...state.shown].slice(0, limit);
    return { shown, since: Math.max(state.since, ...fresh), pending: 0, more: false, added: fresh };
  }
  const pending = complete ? fresh.length : summary.new;
  return { ...state, pending, more: Boolean(summary?.more), added: [] };
}

export class ShownView {
  /**
   * @param {object} client a ProgressClient with view 'shown'
   * @param {object} options
   * @param {number[]} [options.runs] the runs on screen now
   * @param {object|null} [options.filters] {status, q, failures}; null: no summaries
   * @param {number} [options.since] the newest run id the page knew when it was drawn
   * @param {number} [options.limit] most runs shown (new runs push the oldest out)
   * @param {Function} [options.autoShow] true while new runs should appear at once
   */
  constructor(client, { runs = [], filters = {}, since = 0, limit = 100, autoShow = () => true } = {}) {
    this.client = client;
    this.filters = filters;
    this.limit = limit;
    this.autoShow = autoShow;
    // Runs newer than since are news: by default the newest shown, for a page of older runs
    // the newest run there was when it was drawn.
    since = Math.max(since, 0, ...runs);
    this.state = { shown: [...runs], since, pending: 0, more: false, added: [] };
    this._listeners = new Set();
    client.onFrame?.('summary', (summary) => this._summary(summary));
    this._tell();
  }

  /** Show these runs now (a repaint, a filter typed on the page); new runs count from here. */
  show(runs, { filters = this.filters } = {}) {
    this.filters = filters;
    const since = Math.max(this.state.since, ...runs);
    this.state = { ...this.state, shown: [...runs], since, pending: 0, more: false, added: [] };
    this._tell();
  }

  /** Call back with the state ({shown, pending, more, added}) after each summary. */
  onChange(callback) {
    this._listeners.add(callback);
    return () => this._listeners.delete(callback);
  }

  _summary(summary) {
    const next = afterSummary(this.state, summary, { limit: this.limit, autoShow: this.autoShow() });
    const changed = next.shown !== this.state.shown;
    // Runs pushed out by new ones get no more states: drop them rather than show them stale.
    const dropped = changed ? this.state.shown.filter((id) => !next.shown.includes(id)) : [];
    this.state = next;
    if (changed) this._tell();
    if (dropped.length) this.client.forget?.(dropped);
    for (const callback of [...this._listeners]) callback(this.state, summary);
  }

  _tell() {
    this.client.show(this.state.shown, { filters: this.filters, since: this.state.since });
  }
}
