// A run's summary (metadata.summary) and the files it made, as download links.

import { h, setHidden } from './render.js';
import { formatValue, humanizeKey } from './state.js';

/** The summary's [key, value] pairs; none unless it is a plain object. */
export function summaryEntries(metadata) {
  const summary = metadata?.summary;
  return summary && typeof summary === 'object' && !Array.isArray(summary) ? Object.entries(summary) : [];
}

/** Files the run made (reports, exports) with a link; uploads are listed under Settings. */
export function madeFiles(files) {
  return (Array.isArray(files) ? files : []).filter((file) => file?.kind !== 'upload' && file?.url);
}

/** Draws the summary panel under `part` from the run's metadata and the API's file links. */
export function renderSummary({ doc, part }, metadata, files) {
  const entries = summaryEntries(metadata);
  const made = madeFiles(files);
  setHidden(part('summary-panel'), entries.length === 0 && made.length === 0);
  const list = part('summary');
  setHidden(list, entries.length === 0);
  list.replaceChildren(
    ...entries.flatMap(([key, value]) => [h(doc, 'dt', {}, humanizeKey(key)), h(doc, 'dd', {}, formatValue(value))]),
  );
  // Links named by the file's label: the storage name is internal (issue 17, item 7).
  const downloads = part('downloads');
  setHidden(downloads, made.length === 0);
  downloads.replaceChildren(
    ...made.map((file) =>
      h(doc, 'li', {}, h(doc, 'a', { href: file.url, download: '', 'data-testid': 'report-link' }, `Download ${file.label}`)),
    ),
  );
}
