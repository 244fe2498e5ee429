// What went wrong in a run: the error message and traceback, and the rows that failed
// (first ROW_ERRORS_VISIBLE, "Show all" for the rest). Both come from the API detail.

import { h, setAttr, setHidden, setText } from './render.js';
import { rowErrorsView } from './run-extras.js';
import { formatCount, formatValue } from './state.js';

/** The row-errors toggle's label. */
export function rowErrorsToggleText(expanded, count) {
  return expanded ? 'Show fewer' : `Show all ${formatCount(count)}`;
}

/** The error panel's parts: hidden unless there is a message or a traceback. */
export function errorPanelView(errorMessage, tracebackText) {
  const message = errorMessage || '';
  const traceback = tracebackText || '';
  return { message, traceback, hidden: !message && !traceback };
}

/** Binds the failure panels under `part`; returns render({errorMessage, traceback, rows, total, active}). */
export function createFailuresView({ doc, part }) {
  const rowErrors = { rows: [], total: 0, active: false, expanded: false };

  function renderError(errorMessage, tracebackText) {
    const view = errorPanelView(errorMessage, tracebackText);
    setHidden(part('error-panel'), view.hidden);
    setText(part('error-message'), view.message);
    setHidden(part('error-message'), !view.message);
    setHidden(part('traceback'), !view.traceback);
    setText(part('traceback-text'), view.traceback);
  }

  function renderRowErrors() {
    const { rows, total, active, expanded } = rowErrors;
    setHidden(part('row-errors-panel'), rows.length === 0);
    if (rows.length === 0) return;
    const view = rowErrorsView(rows, total, { active, expanded });
    setText(part('row-errors-note'), view.note);
    const toggle = part('row-errors-toggle');
    setHidden(toggle, !view.more);
    setAttr(toggle, 'aria-expanded', String(expanded));
    setText(toggle, rowErrorsToggleText(expanded, rows.length));
    part('row-errors').tBodies[0].replaceChildren(
      ...view.rows.map((row) =>
        h(
          doc,
          'tr',
          {},
          h(doc, 'td', { class: 'num', 'data-label': 'Line' }, formatValue(row?.line)),
          h(doc, 'td', { 'data-label': 'Value' }, h(doc, 'code', {}, formatValue(row?.value))),
          h(doc, 'td', { 'data-label': 'Reason' }, formatValue(row?.reason)),
        ),
      ),
    );
  }

  part('row-errors-toggle').addEventListener('click', () => {
    rowErrors.expanded = !rowErrors.expanded;
    renderRowErrors();
  });

  return {
    render({ errorMessage, traceback, rows, total, active }) {
      renderError(errorMessage, traceback);
      Object.assign(rowErrors, { rows: Array.isArray(rows) ? rows : [], total, active });
      renderRowErrors();
    },
  };
}
