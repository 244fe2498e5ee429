// Vue 3 + Pinia integration of the progress client. See docs/vue.md.
//
//   import { createApp } from 'vue';
//   import { install, useProgressStore } from '/static/progress/vue/index.js';
//   const app = createApp(App);
//   install(app, { connect: { initial } });   // Pinia (if the app has none) + <ProgressBar>
//   app.mount('#app');

import { createPinia } from 'pinia';

import { ProgressBar } from './ProgressBar.js';
import { useProgressStore } from './store.js';

export { ProgressBar } from './ProgressBar.js';
export { runView } from './runView.js';
export { createProgressStoreSetup, defineProgressStore, STORE_ID, useProgressStore } from './store.js';

/**
 * Register <ProgressBar> on `app` and make sure it has Pinia.
 *
 * @param {object} app a Vue app (createApp(...)).
 * @param {object} [options]
 * @param {object} [options.pinia] the Pinia to use; default: the app's, or a new one.
 * @param {string} [options.name] component name to register (default 'ProgressBar').
 * @param {object|boolean} [options.connect] connect the store now, with these
 *   ProgressClient options (true: the defaults: /ws/progress/ on the page's host).
 * @param {Function} [options.useStore] the store to connect (default useProgressStore).
 * @returns the store.
 */
export function install(app, { pinia, name = 'ProgressBar', connect, useStore = useProgressStore } = {}) {
  let active = pinia ?? app.config.globalProperties.$pinia;
  if (!active) active = createPinia();
  if (app.config.globalProperties.$pinia !== active) app.use(active);
  if (name) app.component(name, ProgressBar);
  const store = useStore(active);
  if (connect) store.connect(connect === true ? {} : connect);
  return store;
}

/** The same as a plugin object: app.use(ProgressPlugin, options). */
export const ProgressPlugin = { install };
