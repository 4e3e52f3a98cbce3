// Regenerates the resource reference block in README.md from the zod schema (via dist/).
import { readFileSync, writeFileSync } from 'node:fs';
import { withReference } from '../dist/api/index.js';

const path = new URL('../README.md', import.meta.url);
writeFileSync(path, withReference(readFileSync(path, 'utf8')));
