// "Notify me when it ends" on the run page: a desktop notification when the run ends while
// its tab is hidden. A run started from the list while "Notify me when runs finish" is on
// (notify-opt-in.js) comes with the wish already made (notifyKey).

import { countsText, setAttr, setHidden, setText } from './render.js';
import { titleText } from './run-extras.js';
import { notifyKey } from './run-list.js';
import { isActive, runStatusText } from './state.js';

/** The notification's body: how the run ended and what it did. */
export function notificationBody(op) {
  return `${runStatusText(op)}. ${countsText(op)}.`;
}

/** Whether this change is the run's end, wanted, unseen and permitted: the one time to notify. */
export function shouldNotify({ wasActive, active, wanted, hidden, permission }) {
  return wasActive && !active && wanted && hidden && permission === 'granted';
}

/** The button's label for the reader's wish and the browser's permission. */
export function notifyButtonText(wanted, permission) {
  return wanted && permission === 'granted' ? 'Will notify you when it ends' : 'Notify me when it ends';
}

/**
 * Binds the notify button; returns update(op), called with every state of the run.
 * Without a button or the Notification API, update does nothing.
 */
export function createNotifier({ doc, button, operationId, initial, getOperation, Notify = globalThis.Notification }) {
  const key = notifyKey(operationId);
  const storage = safeStorage();
  let wasActive = initial != null ? isActive(initial) : true;
  // Wished on the list page, by its explained opt-in (the permission was asked there).
  let wanted = storage?.getItem(key) === '1';
  if (!button || typeof Notify !== 'function') return { update() {} };

  function remember(on) {
    try {
      if (on) storage?.setItem(key, '1');
      else storage?.removeItem(key);
    } catch {
      // storage full or blocked: the choice holds for this page only
    }
  }

  function show(op) {
    setHidden(button, !isActive(op) || Notify.permission === 'denied');
    setAttr(button, 'aria-pressed', String(wanted && Notify.permission === 'granted'));
    setText(button, notifyButtonText(wanted, Notify.permission));
  }

  button.addEventListener('click', async () => {
    if (wanted && Notify.permission === 'granted') wanted = false;
    else {
      const permission = Notify.permission === 'granted' ? 'granted' : await Notify.requestPermission();
      wanted = permission === 'granted';
    }
    remember(wanted);
    const op = getOperation();
    if (op) show(op);
  });

  return {
    update(op) {
      const active = isActive(op);
      if (shouldNotify({ wasActive, active, wanted, hidden: doc.hidden, permission: Notify.permission })) {
        const note = new Notify(titleText(op), { body: notificationBody(op), tag: `run-${op.id}` });
        note.onclick = () => {
          globalThis.focus();
          note.close();
        };
      }
      // An ended run never notifies again: forget the wish so storage does not fill up.
      if (!active) remember(false);
      wasActive = active;
      show(op);
    },
  };
}

function safeStorage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // storage disabled for this site
  }
}
