// Import this first in a test that loads 'vue' or 'pinia'. The modules under test import
// those bare specifiers, which a page resolves with its import map; Node has no
// node_modules here, so this resolve hook maps them to the same vendored files the page
// loads (progress/static/progress/vendor/): the code under test is what ships.

import { register } from 'node:module';

const VENDOR = new URL('../../static/progress/vendor/', import.meta.url);
const IMPORT_MAP = {
  vue: new URL('vue/vue.runtime.esm-browser.prod.js', VENDOR).href,
  pinia: new URL('pinia/pinia.esm-browser.prod.js', VENDOR).href,
};
const HOOKS = `let map = {};
export function initialize(data) { map = data; }
export async function resolve(specifier, context, next) {
  return Object.hasOwn(map, specifier) ? { url: map[specifier], shortCircuit: true } : next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(HOOKS)}`, { data: IMPORT_MAP });
