// "Notify me when my runs finish": the list page's explicit, explained opt-in for browser
// notifications. The browser's permission prompt appears only when the user asks here,
// never as a surprise on a Start click; runs started while it is on are marked for the
// run page's notifier (the same localStorage key its own button sets).

export const OPT_IN_KEY = 'progress-notify-starts';

/** Whether runs started from this browser should notify when they end. */
export function wantsStartNotifications(storage = safeStorage(), Notify = globalThis.Notification) {
  return storage?.getItem(OPT_IN_KEY) === '1' && Notify?.permission === 'granted';
}

/**
 * Wire the opt-in control: a button (aria-pressed) and a status line beside it. The
 * permission is asked for inside the button's click, as browsers require.
 */
export function bindNotifyOptIn(button, status, { storage = safeStorage(), Notify = globalThis.Notification } = {}) {
  if (!button) return;
  if (typeof Notify !== 'function') {
    button.hidden = true;
    if (status) status.textContent = '';
    return;
  }
  const show = () => {
    const on = wantsStartNotifications(storage, Notify);
    button.setAttribute('aria-pressed', String(on));
    button.textContent = on ? 'Notifying you when your runs finish' : 'Notify me when runs finish';
    button.disabled = Notify.permission === 'denied';
    if (status) {
      status.textContent =
        Notify.permission === 'denied'
          ? 'Notifications are blocked for this site; allow them in the browser’s site settings.'
          : on
            ? 'Runs you start here notify you when they end while the tab is in the background. Click to stop.'
            : 'Your browser will ask once; then runs you start here notify you when they end.';
    }
  };
  button.hidden = false;
  button.addEventListener('click', async () => {
    if (wantsStartNotifications(storage, Notify)) {
      remember(storage, false);
    } else {
      let permission = Notify.permission;
      if (permission === 'default') {
        try {
          permission = await Notify.requestPermission();
        } catch {
          permission = 'default';
        }
      }
      remember(storage, permission === 'granted');
    }
    show();
  });
  show();
}

function remember(storage, on) {
  try {
    if (on) storage?.setItem(OPT_IN_KEY, '1');
    else storage?.removeItem(OPT_IN_KEY);
  } catch {
    // storage full or blocked: the choice holds for this page only
  }
}

function safeStorage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}
