// Loaded before every Node test (node --import): the client's configuration as a page
// would render it. config.json is checked against progress.web.jsconfig by a pytest test.
import { readFileSync } from 'node:fs';

globalThis.PROGRESS_CONFIG = JSON.parse(readFileSync(new URL('./config.json', import.meta.url), 'utf8'));
