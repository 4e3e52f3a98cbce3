/**
 * Proof that the built helm works: lint and template a fixture chart (values, --set, the values
 * schema refusing bad input), then install it into the test control plane.
 */
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from './controlplane.js';
import { createNamespace, getControlPlane, type ControlPlane, type TestNamespace } from './harness.js';

const CHART = join(repoRoot(), 'test', 'k8s', 'fixtures', 'chart');

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
}

describe('the built helm with a fixture chart', () => {
  let cp: ControlPlane;
  let ns: TestNamespace;

  beforeAll(async () => {
    cp = await getControlPlane();
    ns = await createNamespace('helm');
  }, 300_000);

  afterAll(async () => {
    await ns?.delete();
  });

  test('lint passes on the fixture chart', async () => {
    const out = await cp.helm(['lint', CHART]);
    expect(out.stderr).toBe('');
    expect(out).toMatchObject({ code: 0 });
    expect(out.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
  });

  test('template renders the values, and --set overrides them', async () => {
    const out = await cp.helm(['template', 'rel', CHART, '--namespace', ns.name, '--set', 'greeting=hi', '--set', 'ladder={1s,2s}']);
    expect(out.code).toBe(0);
    const docs = parseAllDocuments(out.stdout).map((d) => d.toJS() as Manifest).filter(Boolean);
    expect(docs).toHaveLength(1);
    expect(docs[0]).toMatchObject({
      kind: 'ConfigMap',
      metadata: { name: 'rel-settings', namespace: ns.name, labels: { 'app.kubernetes.io/instance': 'rel' } },
      data: { greeting: 'hi', routingKey: 'AliPaynotify', ladder: '1s,2s' },
    });
  });

  test('the values schema refuses a rung that is not a duration', async () => {
    const out = await cp.helm(['template', 'rel', CHART, '--set', 'ladder={soon}']);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(/ladder/);
    expect(out.stdout).toBe('');
  });

  test('install writes the rendered objects to the API server', async () => {
    const out = await cp.helm(['install', 'fixture', CHART, '--namespace', ns.name, '--set', 'greeting=installed']);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const core = cp.kubeConfig().makeApiClient(CoreV1Api);
    const cm = await core.readNamespacedConfigMap({ namespace: ns.name, name: 'fixture-settings' });
    expect(cm.data).toEqual({ greeting: 'installed', routingKey: 'AliPaynotify', ladder: '200ms,400ms' });
    const list = await cp.helm(['list', '--namespace', ns.name, '-o', 'json']);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ name: 'fixture', status: 'deployed' })]);
  });
});
