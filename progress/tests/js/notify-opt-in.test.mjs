import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { bindNotifyOptIn, OPT_IN_KEY, wantsStartNotifications } from '../../static/progress/notify-opt-in.js';

function fakeButton() {
  const listeners = {};
  return {
    hidden: true,
    disabled: false,
    textContent: '',
    attributes: {},
    setAttribute(name, value) {
      this.attributes[name] = value;
    },
    addEventListener(type, fn) {
      listeners[type] = fn;
    },
    click: () => listeners.click(),
  };
}

function fakeStorage() {
  const items = new Map();
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => items.set(key, String(value)),
    removeItem: (key) => items.delete(key),
  };
}

function fakeNotification(answer) {
  const Notify = function Notification() {};
  Notify.permission = 'default';
  Notify.asked = 0;
  Notify.requestPermission = async () => {
    Notify.asked += 1;
    Notify.permission = answer;
    return answer;
  };
  return Notify;
}

describe('notify me when runs finish', () => {
  test('nothing is asked until the button is clicked, and the status line explains', () => {
    const Notify = fakeNotification('granted');
    const button = fakeButton();
    const status = { textContent: '' };
    bindNotifyOptIn(button, status, { storage: fakeStorage(), Notify });
    assert.equal(Notify.asked, 0);
    assert.equal(button.hidden, false);
    assert.equal(button.attributes['aria-pressed'], 'false');
    assert.match(status.textContent, /Your browser will ask once/);
  });

  test('a click asks once and opts in; a second click opts out without asking', async () => {
    const Notify = fakeNotification('granted');
    const storage = fakeStorage();
    const button = fakeButton();
    bindNotifyOptIn(button, null, { storage, Notify });
    await button.click();
    assert.equal(Notify.asked, 1);
    assert.equal(storage.getItem(OPT_IN_KEY), '1');
    assert.equal(wantsStartNotifications(storage, Notify), true);
    assert.equal(button.attributes['aria-pressed'], 'true');
    await button.click();
    assert.equal(Notify.asked, 1);
    assert.equal(wantsStartNotifications(storage, Notify), false);
  });

  test('a refused permission leaves the opt-in off and says how to allow it', async () => {
    const Notify = fakeNotification('denied');
    const storage = fakeStorage();
    const button = fakeButton();
    const status = { textContent: '' };
    bindNotifyOptIn(button, status, { storage, Notify });
    await button.click();
    assert.equal(wantsStartNotifications(storage, Notify), false);
    assert.equal(button.disabled, true);
    assert.match(status.textContent, /blocked for this site/);
  });

  test('without notifications in the browser the button stays hidden', () => {
    const button = fakeButton();
    bindNotifyOptIn(button, null, { storage: fakeStorage(), Notify: undefined });
    assert.equal(button.hidden, true);
  });
});
