// The run's settings (its parameters, from the API detail) as a labelled list, and
// "Run again with these settings" for a reader who may start its pipeline.

import { h, setAttr, setHidden, setText } from './render.js';
import { rerunUrl, settingsEntries } from './run-extras.js';
import { isActive } from './state.js';

/** The note under "Run again": a file cannot travel in a link, so the reader picks it again. */
export function runAgainNote(needsFile) {
  return needsFile
    ? 'Opens the start form with these settings; choose the file again.'
    : 'Opens the start form with these settings.';
}

/**
 * Binds the settings list under `part`; returns render(details, op). The pipeline's
 * description (labels, and whether the reader may start it) is fetched once.
 */
export function createSettingsView({ doc, part, pipelinesUrl, listUrl, getOperation }) {
  let pipelineDescription; // undefined until asked, then the description or null
  let drawnKey = null; // what the list was last drawn from
  let lastDetails = null;

  /** This run's pipeline as GET /api/v1/pipelines/ describes it; null when you may not start it. */
  async function fetchPipelineDescription(name) {
    try {
      const response = await fetch(pipelinesUrl, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const list = await response.json();
      pipelineDescription = (Array.isArray(list) ? list : []).find((p) => p?.name === name) ?? null;
    } catch (error) {
      console.warn('progress: could not load the pipelines', error);
      pipelineDescription = null;
    }
  }

  function render(details, op) {
    lastDetails = details;
    const meta = details?.metadata;
    const parameters = meta?.parameters;
    if (!parameters || typeof parameters !== 'object') return;
    const key = `${details.seq}:${pipelineDescription?.name ?? pipelineDescription}:${isActive(op)}`;
    if (key === drawnKey) return;
    drawnKey = key;
    const name = meta.pipeline || op.metadata?.pipeline;
    if (name && pipelineDescription === undefined) {
      pipelineDescription = null;
      fetchPipelineDescription(name).then(() => render(lastDetails, getOperation() ?? op));
    }
    const description = pipelineDescription || null;
    const entries = settingsEntries(parameters, { files: meta.files, pipeline: description });
    const list = part('settings');
    for (const node of list.querySelectorAll('[data-setting]')) node.remove();
    // An upload's label links to its download when the API lists one ({label, kind, url}).
    const links = Array.isArray(details.files) ? details.files : [];
    for (const entry of entries) {
      const link = entry.isFile ? links.find((f) => f?.kind === 'upload' && f?.label === entry.value && f?.url) : null;
      const value = link ? h(doc, 'a', { href: String(link.url), download: true }, entry.value) : entry.value;
      list.append(
        h(doc, 'dt', { 'data-setting': entry.name }, entry.label),
        h(doc, 'dd', { 'data-setting': entry.name, 'data-testid': `setting-${entry.name}` }, value),
      );
    }
    const again = part('run-again');
    setHidden(again, !description || isActive(op));
    if (!description) return;
    setAttr(part('run-again-link'), 'href', rerunUrl(listUrl, description.name, parameters, { pipeline: description }));
    setText(part('run-again-note'), runAgainNote(entries.some((entry) => entry.isFile)));
  }

  return { render };
}
