// The client's settings, defined once in Python (progress/web/jsconfig.py: URLs, close codes,
// statuses, limits) and rendered into each page by {% load progress_tags %}
// {% progress_config %} as <script type="application/json" id="progress-config">.
// Outside a page (the Node tests) the same dict is set on globalThis.PROGRESS_CONFIG first.

export const CONFIG_ELEMENT_ID = 'progress-config';

/** The configuration of this page; a clear error if the page forgot to render it. */
export function readConfig(doc = globalThis.document) {
  const node = doc?.getElementById?.(CONFIG_ELEMENT_ID);
  if (node) return JSON.parse(node.textContent);
  if (globalThis.PROGRESS_CONFIG) return globalThis.PROGRESS_CONFIG;
  throw new Error(
    `progress: this page has no #${CONFIG_ELEMENT_ID}; add {% load progress_tags %}{% progress_config %} to its template`,
  );
}

export const config = Object.freeze(readConfig());

/** A URL pattern from the config ("/progress/{id}/") for one run. */
export function runPath(pattern, id) {
  return pattern.replace('{id}', encodeURIComponent(id));
}
