/**
 * The layering rules of design.md, checked on the import graph of src/: the worker never
 * imports Kubernetes code, the operator never performs deliveries, and the pure layers (api,
 * topology planner) depend on nothing above them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** Every src file with the src-relative files and packages it imports (static and dynamic). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const entry of readdirSync(SRC, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const file = join(entry.parentPath, entry.name);
    const text = readFileSync(file, 'utf8');
    const specs = [...text.matchAll(/(?:from\s+|import\()\s*'([^']+)'/g)].map((m) => m[1]!);
    graph.set(
      relative(SRC, file),
      specs.map((s) => (s.startsWith('.') ? relative(SRC, resolve(dirname(file), s)).replace(/\.js$/, '.ts') : s)),
    );
  }
  return graph;
}

/** Everything reachable from the files under `dir`. */
function reachable(graph: Map<string, string[]>, dir: string): Set<string> {
  const seen = new Set<string>();
  const todo = [...graph.keys()].filter((f) => f.startsWith(`${dir}/`));
  while (todo.length > 0) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    for (const dep of graph.get(f) ?? (f.endsWith('/index.ts') ? [] : graph.get(`${f.replace(/\.ts$/, '')}/index.ts`) ?? [])) todo.push(dep);
  }
  return seen;
}

describe('the layers of src/', () => {
  const graph = importGraph();

  test('the import graph was read (the rules below would pass vacuously otherwise)', () => {
    expect(graph.get('worker/worker.ts')).toEqual(expect.arrayContaining(['rabbitmq-client', 'topology/index.ts']));
    expect(reachable(graph, 'worker')).toContain('topology/plan.ts');
    // The CLI wires both sides, so the same walk from it must find both.
    const cli = [...reachable(graph, 'cli')];
    expect(cli.some((d) => d.startsWith('operator/'))).toBe(true);
    expect(cli.some((d) => d.startsWith('worker/'))).toBe(true);
  });

  test('the worker never imports Kubernetes code', () => {
    const deps = [...reachable(graph, 'worker')];
    expect(deps.filter((d) => d.startsWith('operator/') || d.startsWith('@kubernetes/'))).toEqual([]);
  });

  test('the operator never performs deliveries (no worker code, no HTTP delivery client)', () => {
    const deps = [...reachable(graph, 'operator')];
    expect(deps.filter((d) => d.startsWith('worker/'))).toEqual([]);
  });

  test('the spec and the topology planner depend on nothing above them', () => {
    expect([...reachable(graph, 'api')].filter((d) => /^(topology|worker|operator|cli)\//.test(d))).toEqual([]);
    const planner = graph.get('topology/plan.ts')!;
    expect(planner.filter((d) => !d.startsWith('api/'))).toEqual([]);
  });
});
