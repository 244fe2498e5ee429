// The start forms on the runs page: one click starts one run, errors show beside their
// fields, and the Start click asks for notification permission (the run page reads the
// answer through notifyKey). Without JavaScript the forms post and the server answers.

import { h, setAttr, setHidden, setText } from './render.js';
import { newValueNote, notifyKey, startErrors } from './run-list.js';

// How long a start waits for the reader to answer the notification prompt before going on.
const PERMISSION_WAIT_MS = 15_000;

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
  for (const form of doc.querySelectorAll('form[data-pipeline]')) {
    // Coming back with the Back button restores the page as it was left: re-enable.
    addEventListener('pageshow', () => setBusy(form, false));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      // Asked inside the click that starts the run, as browsers require.
      const permission = askNotificationPermission();
      startRun(form, permission);
    });
  }
}

function showNewValueNote(input) {
  const note = input.ownerDocument.getElementById(`${input.id}-new`);
  const options = [...(input.list?.options ?? [])].map((option) => option.value);
  const text = newValueNote(input.value, options, input.dataset.newNote);
  setText(note, text);
  setHidden(note, !text);
  toggleDescribedBy(input, note?.id, Boolean(text));
}

function askNotificationPermission() {
  const api = globalThis.Notification;
  if (!api || api.permission !== 'default') return Promise.resolve(api?.permission ?? 'unsupported');
  try {
    return Promise.resolve(api.requestPermission()).catch(() => 'default');
  } catch {
    return Promise.resolve('default');
  }
}

async function startRun(form, permission) {
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
    const answer = await Promise.race([permission, wait(PERMISSION_WAIT_MS)]);
    if (answer === 'granted' || globalThis.Notification?.permission === 'granted') {
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

function wait(ms) {
  return new Promise((resolve) => setTimeout(() => resolve('timeout'), ms));
}
