/**
 * Every benchmark section, in the order `npm run bench` runs them. A section returns its numbers;
 * the runner merges them into bench/results.json and renders bench/RESULTS.md. To add one, write
 * `bench/sections/<name>.ts` exporting a `Section` and list it here.
 */
import type { Section } from '../lib.js';
import { delay } from './delay.js';
import { memory } from './memory.js';
import { operator } from './operator.js';
import { throughput } from './throughput.js';

export const sections: Section[] = [throughput, delay, memory, operator];
