// Cancel with a confirming second click: the first click asks, the second posts the form.
// Without JavaScript one click cancels (detail.html).

import { setAttr, setHidden, setText } from './render.js';

// An unconfirmed "Confirm cancel" goes back to "Cancel run" after this long.
export const CANCEL_CONFIRM_MS = 10_000;

/** Binds the cancel form under `part`; returns reset(), which drops an unconfirmed click. */
export function createCancelConfirm({ part, announce }) {
  const form = part('cancel-form');
  const button = part('cancel-button');
  const keep = part('cancel-keep');
  const help = part('cancel-confirm-help');
  if (!form || !button) return { reset() {} };
  let confirming = false;
  let timer = null;

  function reset() {
    confirming = false;
    clearTimeout(timer);
    setHidden(keep, true);
    setAttr(button, 'aria-describedby', null);
    setText(help, '');
    if (!button.disabled) setText(button, 'Cancel run');
  }

  form.addEventListener('submit', (event) => {
    if (confirming) return; // the second click: let the form post
    event.preventDefault();
    confirming = true;
    setText(button, 'Confirm cancel');
    setText(help, 'Press again to stop this run. Items done so far are kept.');
    setAttr(button, 'aria-describedby', 'cancel-confirm-help');
    setHidden(keep, false);
    announce('Press Confirm cancel to stop this run, or Keep running.');
    timer = setTimeout(reset, CANCEL_CONFIRM_MS);
  });
  keep?.addEventListener('click', () => {
    reset();
    button.focus();
  });
  return { reset };
}
