import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { notifyPipelineCrd } from '../../../src/api/index.js';
import { renderCrd } from '../../../src/cli/commands/crd.js';

const CHECKED_IN = fileURLToPath(new URL('../../../crds/notifypipelines.ladder.dev.yaml', import.meta.url));

type Json = Record<string, any>;

function walk(node: unknown, visit: (n: Json, path: string) => void, path = ''): void {
  if (Array.isArray(node)) node.forEach((n, i) => walk(n, visit, `${path}[${i}]`));
  else if (node !== null && typeof node === 'object') {
    visit(node as Json, path);
    // `default` holds data, not a schema.
    for (const [k, v] of Object.entries(node)) if (k !== 'default') walk(v, visit, `${path}.${k}`);
  }
}

describe('the NotifyPipeline CRD', () => {
  test('the checked-in file is exactly what the schema generates (run `npm run gen:crd` after changing src/api/schema.ts)', () => {
    expect(readFileSync(CHECKED_IN, 'utf8')).toBe(renderCrd());
  });

  const crd = notifyPipelineCrd() as Json;
  const version = crd.spec.versions[0];
  const spec = version.schema.openAPIV3Schema.properties.spec;

  test('is structural: no additionalProperties or $schema anywhere, every node typed', () => {
    walk(version.schema.openAPIV3Schema, (n, path) => {
      expect(n).not.toHaveProperty('additionalProperties');
      expect(n).not.toHaveProperty('$schema');
      if (path.endsWith('.properties') || path.endsWith('x-kubernetes-validations') || /\.x-kubernetes-validations\[\d+\]$/.test(path)) return;
      if ('type' in n || 'anyOf' in n || 'oneOf' in n || 'enum' in n) return;
      throw new Error(`untyped schema node at ${path}`);
    });
  });

  test('describes every spec field for kubectl explain', () => {
    const missing: string[] = [];
    walk(spec, (n, path) => {
      if (!('properties' in n)) return;
      for (const [k, v] of Object.entries(n.properties as Json)) if (!(v as Json).description) missing.push(`${path}.${k}`);
    });
    expect(missing).toEqual([]);
  });

  test('enforces the ladder and target rules with CEL on the API server', () => {
    // Item-level rules, so the API server names the bad element (spec.retry.ladder[2]).
    expect(spec.properties.retry.properties.ladder.items['x-kubernetes-validations'].map((r: Json) => r.message)).toEqual([
      'is not a duration like 5m',
      'must be longer than 0s and at most 168h',
    ]);
    expect(spec.properties.delivery.properties.target['x-kubernetes-validations'][0].message).toBe('set exactly one of url, fromHeader or fromBody: true');
  });

  test('shows the agreed printer columns and the np short name, with a status subresource', () => {
    expect(version.additionalPrinterColumns.map((c: Json) => c.name)).toEqual(expect.arrayContaining(['Ready', 'Exchange', 'Routing Key', 'Ladder', 'Workers', 'Parked', 'Age']));
    expect(crd.spec.names.shortNames).toEqual(['np']);
    expect(version.subresources).toEqual({ status: {} });
  });
});
