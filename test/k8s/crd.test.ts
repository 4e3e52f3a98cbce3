/**
 * Proof that the harness gives a real API server: the NotifyPipeline CRD installs and becomes
 * Established, custom resources and their status subresource can be created, listed, watched
 * and patched with @kubernetes/client-node, and the CRD's CEL rules refuse bad objects.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiException, CustomObjectsApi, PatchStrategy, setHeaderOptions, Watch, type KubeConfig, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { repoRoot } from './controlplane.js';
import { createNamespace, eventually, getControlPlane, installCrd, type ControlPlane, type TestNamespace } from './harness.js';

const GROUP = 'ladder.dev';
const VERSION = 'v1alpha1';
const PLURAL = 'notifypipelines';

interface Pipeline {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; generation?: number; resourceVersion?: string };
  spec: Record<string, any>;
  status?: Record<string, any>;
}

/** The seed example, moved into `namespace` under `name`. */
function seedPipeline(namespace: string, name: string): Pipeline {
  const doc = parseYaml(readFileSync(join(repoRoot(), 'examples', 'seed-alipay.yaml'), 'utf8')) as Pipeline;
  return { ...doc, metadata: { name, namespace } };
}

/** The text of an API error body (client-node keeps it as a string or an object). */
function bodyText(e: unknown): string {
  if (!(e instanceof ApiException)) throw e;
  return typeof e.body === 'string' ? e.body : JSON.stringify(e.body);
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

describe('a NotifyPipeline CRD on the test control plane', () => {
  let cp: ControlPlane;
  let ns: TestNamespace;
  let kc: KubeConfig;
  let api: CustomObjectsApi;
  let crd: V1CustomResourceDefinition;

  beforeAll(async () => {
    cp = await getControlPlane();
    ns = await createNamespace('crd');
    kc = cp.kubeConfig();
    api = kc.makeApiClient(CustomObjectsApi);
    crd = await installCrd();
  }, 300_000);

  afterAll(async () => {
    await ns?.delete();
  });

  test('installs and becomes Established with the np short name', () => {
    expect(crd.status?.conditions?.find((c) => c.type === 'Established')?.status).toBe('True');
    expect(crd.status?.acceptedNames?.shortNames).toContain('np');
  });

  test('creates, lists and merge-patches a pipeline; a spec change bumps the generation', async () => {
    const created = (await api.createNamespacedCustomObject({
      group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL, body: seedPipeline(ns.name, 'alipay'),
    })) as Pipeline;
    expect(created.metadata.generation).toBe(1);
    expect(created.spec.source.routingKey).toBe('AliPaynotify');

    const list = (await api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL })) as { items: Pipeline[] };
    expect(list.items.map((p) => p.metadata.name)).toEqual(['alipay']);

    const patched = (await api.patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL, name: 'alipay', body: { spec: { retry: { ladder: ['200ms', '400ms'] } } } },
      mergePatch,
    )) as Pipeline;
    expect(patched.spec.retry.ladder).toEqual(['200ms', '400ms']);
    expect(patched.metadata.generation).toBe(2);
  });

  test('the status subresource takes status only, and status writes leave the generation alone', async () => {
    const name = 'status';
    await api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL, body: seedPipeline(ns.name, name) });
    const status = {
      observedGeneration: 1,
      ladder: '3s,30s,1m,2m,3m,5m',
      workers: '0/2',
      depths: { work: 0, delayed: 0, parked: 7, sampledAt: new Date().toISOString() },
      conditions: [{ type: 'Ready', status: 'False', reason: 'WorkersUnavailable', message: 'no pods yet', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), observedGeneration: 1 }],
    };
    const afterStatus = (await api.patchNamespacedCustomObjectStatus(
      // The spec part of this patch must be ignored by the status endpoint.
      { group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL, name, body: { status, spec: { workers: { replicas: 9 } } } },
      mergePatch,
    )) as Pipeline;
    expect(afterStatus.status?.depths?.parked).toBe(7);
    expect(afterStatus.status?.conditions?.[0]?.reason).toBe('WorkersUnavailable');
    expect(afterStatus.spec.workers.replicas).toBe(2);
    expect(afterStatus.metadata.generation).toBe(1);

    // …and the main endpoint ignores status.
    const afterMain = (await api.patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL, name, body: { status: { workers: '5/5' } } },
      mergePatch,
    )) as Pipeline;
    expect(afterMain.status?.workers).toBe('0/2');
  });

  test('a watch sees ADDED, MODIFIED and DELETED for a pipeline', async () => {
    const seen: string[] = [];
    const controller = await new Watch(kc).watch(
      `/apis/${GROUP}/${VERSION}/namespaces/${ns.name}/${PLURAL}`,
      { fieldSelector: 'metadata.name=watched' },
      (phase, obj: Pipeline) => seen.push(`${phase}:${obj.metadata.name}:${obj.spec?.workers?.replicas}`),
      () => {},
    );
    try {
      await api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL, body: seedPipeline(ns.name, 'watched') });
      await api.patchNamespacedCustomObject(
        { group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL, name: 'watched', body: { spec: { workers: { replicas: 3 } } } },
        mergePatch,
      );
      await api.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL, name: 'watched' });
      await eventually(() => (seen.some((s) => s.startsWith('DELETED')) ? true : undefined), { what: 'the DELETED event', describe: () => seen.join(', ') });
      expect(seen).toEqual(['ADDED:watched:2', 'MODIFIED:watched:3', 'DELETED:watched:3']);
    } finally {
      controller.abort();
    }
  });

  test('a CEL rule refuses a delivery target that sets none of url, fromHeader or fromBody', async () => {
    const bad = seedPipeline(ns.name, 'no-target');
    bad.spec.delivery.target = {};
    let caught: unknown;
    try {
      await api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL, body: bad });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ApiException);
    expect((caught as ApiException<unknown>).code).toBe(422);
    expect(bodyText(caught)).toContain('set exactly one of url, fromHeader or fromBody: true');

    // Two targets at once are refused by the same rule.
    const two = seedPipeline(ns.name, 'two-targets');
    two.spec.delivery.target = { fromBody: true, url: 'https://merchant.example/notify' };
    await expect(
      api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns.name, plural: PLURAL, body: two }),
    ).rejects.toMatchObject({ code: 422 });
  });
});
