import { readFileSync } from 'node:fs';
import { withReference } from '../../src/api/index.js';

describe('README', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

  it('carries the resource reference generated from the current schema (run `npm run gen:docs` when this fails)', () => {
    expect(withReference(readme)).toBe(readme);
  });

  it('names the two commands that set up and run Ladder and its tests', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
  });
});
