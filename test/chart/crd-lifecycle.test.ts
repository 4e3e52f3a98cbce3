/**
 * The CRD ships as a chart template with `helm.sh/resource-policy: keep`: `helm upgrade`
 * applies it (files in a chart's crds/ folder are never upgraded), and `helm uninstall` leaves
 * it — and so every user's NotifyPipeline — in place. The CRD is shared by the whole test run,
 * so the release adopts it (--take-ownership) with identical content rather than creating it.
 */
import { createNamespace, getControlPlane, installCrd, uniqueName, type ControlPlane, type TestNamespace } from '../k8s/harness.js';
import { CHART_DIR, helmWithValues } from './support/chart.js';

let cp: ControlPlane;
let rel: TestNamespace;
let team: TestNamespace;
const release = uniqueName('crd').slice(0, 18);
let installed = false;

interface Crd {
  metadata: { annotations?: Record<string, string>; labels?: Record<string, string>; deletionTimestamp?: string };
}

async function crd(): Promise<Crd | undefined> {
  const r = await cp.kubectl(['get', 'crd', 'notifypipelines.ladder.dev', '-o', 'json']);
  return r.code === 0 ? (JSON.parse(r.stdout) as Crd) : undefined;
}

beforeAll(async () => {
  cp = await getControlPlane();
  await installCrd();
  [rel, team] = await Promise.all([createNamespace('ladder-system'), createNamespace('team')]);
}, 180_000);
afterAll(async () => {
  if (installed) await cp.helm(['uninstall', release, '--namespace', rel.name]);
  await Promise.all([rel, team].map((ns) => ns?.delete()));
});

test('helm install takes the CRD into the release with the keep policy', async () => {
  const r = await helmWithValues(cp, ['install', release, CHART_DIR, '--namespace', rel.name, '--take-ownership'], { watchNamespaces: [team.name] });
  installed = r.code === 0;
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  const manifest = await cp.helm(['get', 'manifest', release, '--namespace', rel.name]);
  expect(manifest.stdout).toMatch(/kind: CustomResourceDefinition\n/);
  expect((await crd())?.metadata.annotations).toMatchObject({
    'helm.sh/resource-policy': 'keep',
    'meta.helm.sh/release-name': release,
    'meta.helm.sh/release-namespace': rel.name,
  });
});

test('helm upgrade applies the CRD template (a crds/ folder would be skipped)', async () => {
  const r = await helmWithValues(cp, ['upgrade', release, CHART_DIR, '--namespace', rel.name], { watchNamespaces: [team.name], commonLabels: { 'ladder.dev/upgraded': 'yes' } });
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  expect((await crd())?.metadata.labels?.['ladder.dev/upgraded']).toBe('yes');
});

test("helm uninstall keeps the CRD and the users' NotifyPipelines", async () => {
  const pipeline = {
    apiVersion: 'ladder.dev/v1alpha1',
    kind: 'NotifyPipeline',
    metadata: { name: 'kept', namespace: team.name },
    spec: { rabbitmq: { secretRef: { name: 'rabbitmq', key: 'uri' } }, source: { exchange: 'notifyExchange', routingKey: 'AliPaynotify' }, retry: { ladder: ['3s', '30s'] }, delivery: { target: { fromBody: true } } },
  };
  const applied = await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(pipeline) });
  expect({ code: applied.code, stderr: applied.stderr }).toEqual({ code: 0, stderr: '' });

  const r = await cp.helm(['uninstall', release, '--namespace', rel.name]);
  expect(r.code).toBe(0);
  installed = false;
  expect(r.stdout + r.stderr).toMatch(/kept due to the resource policy/i);
  const after = await crd();
  expect(after).toBeDefined();
  expect(after?.metadata.deletionTimestamp).toBeUndefined();
  const still = await cp.kubectl(['get', 'notifypipeline', 'kept', '-n', team.name, '-o', 'name']);
  expect(still.stdout.trim()).toBe('notifypipeline.ladder.dev/kept');
});
