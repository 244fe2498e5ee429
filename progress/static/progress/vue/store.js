// Pinia store over the project's ProgressClient: one socket, its reconnects, backoff,
// resync, seq ordering and session-cookie auth, with the runs as reactive state.
//
//   const progress = useProgressStore();
//   progress.connect({ initial });          // idempotent; returns the ProgressClient
//   progress.getOperation(42);              // by id ...
//   progress.getOperation('import_genes');  // ... or the newest run with that name
//   progress.list;                          // active first, newest first
//
// 'vue' and 'pinia' are bare specifiers: an import map (no build step) or a bundler
// resolves them. Everything else is relative, so the folder can be copied as is.

import { defineStore } from 'pinia';
import { computed, onScopeDispose, ref } from 'vue';

import { CONNECTION_STATES, ProgressClient } from '../client.js';
import {
  activeOperations as activeOf,
  clientOptions,
  copyChanges,
  findOperation,
  idOf,
  sortOperations,
} from './storeLogic.js';

export const STORE_ID = 'progress';

/**
 * The setup function of the store, with Vue's reactivity and the client class passed
 * in: defineProgressStore uses the real ones; tests may pass their own.
 *
 * @param {object} deps
 * @param {Function} deps.ref, deps.computed  Vue's (or equivalents).
 * @param {Function} [deps.onScopeDispose]    disconnects when the store is disposed.
 * @param {Function} [deps.ProgressClient]    the client class.
 * @param {object} [deps.defaults]            ProgressClient options for every connect().
 */
export function createProgressStoreSetup({
  ref: makeRef,
  computed: makeComputed,
  onScopeDispose: onDispose = null,
  ProgressClient: Client = ProgressClient,
  defaults = {},
}) {
  return function setupProgressStore() {
    // The client owns a socket and timers: it lives in this closure, never in state,
    // so Vue does not wrap it in a proxy.
    let client = null;
    let unsubscribe = null;
    const followed = new Set();

    /** Runs keyed by id (as a string). Each run is a frozen object, replaced whole. */
    const operations = makeRef({});
    /** connecting | connected | reconnecting | offline | refused (ProgressClient.state) */
    const connectionState = makeRef(CONNECTION_STATES.CONNECTING);
    /** 'signed-out' (close 4001) | 'forbidden' (4003) | null (ProgressClient.refusal) */
    const refusal = makeRef(null);

    /** getOperation(42), getOperation('42') or getOperation('import_genes') (newest). */
    const getOperation = makeComputed(() => (idOrName) => findOperation(operations.value, idOrName));
    /** Every held run: active first (newest created first), then newest finished. */
    const list = makeComputed(() => sortOperations(operations.value));
    /** Queued and running runs, newest first. */
    const activeOperations = makeComputed(() => activeOf(operations.value));

    /**
     * Open the connection (once: later calls return the same client until disconnect).
     * Options are ProgressClient's: url, operationId, initial, and the test seams.
     */
    function connect(options = {}) {
      if (client) return client;
      const created = new Client(clientOptions(defaults, options, operations.value));
      client = created;
      unsubscribe = created.subscribe((store, changedIds, state) => {
        if (changedIds.length) copyChanges(operations.value, store, changedIds);
        connectionState.value = state;
        refusal.value = created.refusal;
      });
      for (const id of followed) created.follow(id);
      created.connect();
      return created;
    }

    /** Close the socket and stop reconnecting. Runs already held stay in `operations`. */
    function disconnect() {
      const held = client;
      client = null;
      unsubscribe?.();
      unsubscribe = null;
      held?.disconnect();
      connectionState.value = CONNECTION_STATES.OFFLINE;
    }

    /** Keep run `id` even if it is older than the snapshot (asks the server for it). */
    function follow(id) {
      const numeric = idOf(id);
      if (numeric == null) return;
      followed.add(numeric);
      client?.follow(numeric);
    }

    /** The ProgressClient in use, or null before connect() / after disconnect(). */
    function getClient() {
      return client;
    }

    onDispose?.(disconnect);

    return {
      operations,
      connectionState,
      refusal,
      getOperation,
      list,
      activeOperations,
      connect,
      disconnect,
      follow,
      getClient,
    };
  };
}

/**
 * Define a progress store. Each id is a separate store with its own connection, e.g.
 * defineProgressStore({ id: 'progressRemote', url: 'wss://progress.example.org/ws/progress/' }).
 *
 * @param {object} [options] `id` (default 'progress'), `ProgressClient` (a substitute
 *   class), and any ProgressClient option used as a default for connect().
 */
export function defineProgressStore({ id = STORE_ID, ProgressClient: Client = ProgressClient, ...defaults } = {}) {
  return defineStore(
    id,
    createProgressStoreSetup({ ref, computed, onScopeDispose, ProgressClient: Client, defaults }),
  );
}

/** The app's progress store: useProgressStore() inside components, (pinia) outside. */
export const useProgressStore = defineProgressStore();
