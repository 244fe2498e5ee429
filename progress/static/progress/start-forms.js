// The start forms on the runs page: one click starts one run, errors show beside their
// fields, a field's suggestions beyond those listed are searched as the user types, and a
// run started while "Notify me when runs finish" is on is marked for its run page
// (notifyKey). A Start click never prompts. Without JavaScript the forms post and the
// server answers.

import { bindNotifyOptIn, wantsStartNotifications } from './notify-opt-in.js';
import { h, setAttr, setHidden, setText } from './render.js';
import { newValueNote, notifyKey, startErrors, suggestionSearchUrl } from './run-list.js';

// A field's search (values beyond its listed suggestions) waits for a pause in typing.
const SUGGESTION_SEARCH_DELAY_MS = 250;

/** Binds every start form in `doc`: posts with fetch, shows errors by field, then opens the run. */
export function setUpStartForms(doc) {
  for (const details of doc.querySelectorAll('[data-pipeline-details]')) {
    details.addEventListener('toggle', () => {
      setAttr(details.querySelector('summary'), 'aria-expanded', details.open ? 'true' : 'false');
    });
  }
  for (const input of doc.querySelectorAll('input[data-suggested]')) {
    const check = () => showNewValueNote(input);
    input.addEventListener('input', check);
    check();
  }
  bindNotifyOptIn(doc.querySelector('[data-notify-opt-in]'), doc.querySelector('[data-notify-opt-in-status]'));
  for (const input of doc.querySelectorAll('input[data-search-url]')) {
    let timer = 0;
    input.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(() => searchSuggestions(input), SUGGESTION_SEARCH_DELAY_MS);
    });
  }
  for (const form of doc.querySelectorAll('form[data-pipeline]')) {
    // Coming back with the Back button restores the page as it was left: re-enable.
    addEventListener('pageshow', () => setBusy(form, false));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      startRun(form);
    });
  }
}

/** Refill a field's datalist with the server's values matching what is typed (bounded). */
async function searchSuggestions(input) {
  const url = suggestionSearchUrl(input.dataset.searchUrl, input.value);
  const list = input.list;
  if (!url || !list) return;
  const typed = input.value;
  let values;
  try {
    const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    if (!response.ok) return; // the listed suggestions stay; the server checks what is sent
    values = (await response.json()).values;
  } catch {
    return;
  }
  if (input.value !== typed || !Array.isArray(values)) return; // typing went on: a newer search
  list.replaceChildren(...values.map((value) => h(input.ownerDocument, 'option', { value: String(value) })));
}

function showNewValueNote(input) {
  const note = input.ownerDocument.getElementById(`${input.id}-new`);
  const options = [...(input.list?.options ?? [])].map((option) => option.value);
  const text = newValueNote(input.value, options, input.dataset.newNote);
  setText(note, text);
  setHidden(note, !text);
  toggleDescribedBy(input, note?.id, Boolean(text));
}

async function startRun(form) {
  // One click, one run: a slow server must not turn impatience into duplicates.
  if (form.dataset.busy === 'true') return;
  setBusy(form, true);
  let response;
  let body = null;
  try {
    response = await fetch(form.action, {
      method: 'POST',
      body: new FormData(form),
      headers: { Accept: 'application/json' },
      credentials: 'same-origin',
    });
    body = await response.json().catch(() => null);
  } catch {
    const text = 'Not started: the server could not be reached. Check the connection and try again.';
    showErrors(form, { fields: {}, form: text });
    setBusy(form, false);
    return;
  }
  if (response.ok && body?.url) {
    showErrors(form, { fields: {}, form: '' });
    // Only with the explicit opt-in (notify-opt-in.js): a Start click never prompts.
    if (wantsStartNotifications()) {
      try {
        localStorage.setItem(notifyKey(body.id), '1');
      } catch {
        // Storage may be full or blocked; the run page's button still works.
      }
    }
    location.assign(body.url);
    return;
  }
  const names = [...form.querySelectorAll('[data-field]')].map((node) => node.dataset.field);
  showErrors(form, startErrors(body, names, response.status));
  setBusy(form, false);
}

/** Errors beside their fields (aria-invalid, aria-describedby) and above the form; the
 * input stays as it was typed. */
function showErrors(form, { fields, form: formText }) {
  let first = null;
  for (const field of form.querySelectorAll('[data-field]')) {
    const name = field.dataset.field;
    const control = field.querySelector('input, select, textarea');
    const error = field.querySelector('[data-field-error]');
    const text = fields[name] ?? '';
    setText(error, text);
    setHidden(error, !text);
    field.classList.toggle('field--error', Boolean(text));
    setAttr(control, 'aria-invalid', text ? 'true' : null);
    toggleDescribedBy(control, error?.id, Boolean(text));
    if (text && !first) first = control;
  }
  const box = form.querySelector('[data-form-errors]');
  if (box) {
    const text = !formText || formText.startsWith('Not started') ? formText : `Not started: ${formText}`;
    box.replaceChildren(...(text ? [h(form.ownerDocument, 'p', {}, text)] : []));
    setHidden(box, !text);
  }
  first?.focus();
}

function toggleDescribedBy(control, id, on) {
  if (!control || !id) return;
  const ids = (control.getAttribute('aria-describedby') ?? '').split(/\s+/).filter((x) => x && x !== id);
  if (on) ids.push(id);
  setAttr(control, 'aria-describedby', ids.length ? ids.join(' ') : null);
}

function setBusy(form, busy) {
  form.dataset.busy = busy ? 'true' : 'false';
  const button = form.querySelector('button[type="submit"]');
  if (!button) return;
  button.dataset.label ??= button.textContent;
  button.disabled = busy;
  button.textContent = busy ? 'Starting…' : button.dataset.label;
}
