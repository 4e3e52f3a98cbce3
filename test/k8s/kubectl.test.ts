/**
 * Proof that the built kubectl works against the harness: apply the seed example, read the
 * printer columns, explain the schema's descriptions, and check RBAC for a ServiceAccount both
 * with `auth can-i --as` and by acting as it with a TokenRequest token.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiException, CustomObjectsApi, RbacAuthorizationV1Api, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { repoRoot } from './controlplane.js';
import { actAsServiceAccount, createNamespace, getControlPlane, installCrd, type ControlPlane, type TestNamespace } from './harness.js';

const normalise = (text: string) => text.replace(/\s+/g, ' ').trim();

/** The example file with its `payments` namespace removed, so `-n` decides where it goes. */
function seedWithoutNamespace(): string {
  const doc = parseYaml(readFileSync(join(repoRoot(), 'examples', 'seed-alipay.yaml'), 'utf8')) as { metadata: Record<string, unknown> };
  delete doc.metadata.namespace;
  return toYaml(doc);
}

describe('the built kubectl against the test control plane', () => {
  let cp: ControlPlane;
  let ns: TestNamespace;
  let crd: V1CustomResourceDefinition;

  beforeAll(async () => {
    cp = await getControlPlane();
    ns = await createNamespace('kubectl');
    crd = await installCrd();
  }, 300_000);

  afterAll(async () => {
    await ns?.delete();
  });

  test('applies the seed example into a namespace and lists it with the printer columns', async () => {
    const applied = await cp.kubectl(['apply', '-n', ns.name, '-f', '-'], { input: seedWithoutNamespace() });
    expect(applied).toMatchObject({ code: 0, stdout: 'notifypipeline.ladder.dev/seed created\n' });

    const got = await cp.kubectl(['get', 'np', '-n', ns.name]);
    expect(got.code).toBe(0);
    const [header, row] = got.stdout.trimEnd().split('\n');
    // Columns in the CRD's order, space-separated as kubectl prints them.
    expect(header).toMatch(/^NAME\s+READY\s+EXCHANGE\s+ROUTING KEY\s+LADDER\s+WORKERS\s+PARKED\s+AGE$/);
    expect(row).toMatch(/^seed\s+notifyExchange\s+AliPaynotify\s+\S+$/); // no status yet: only spec columns and AGE

    // A second apply of the same file changes nothing.
    const again = await cp.kubectl(['apply', '-n', ns.name, '-f', '-'], { input: seedWithoutNamespace() });
    expect(again.stdout).toBe('notifypipeline.ladder.dev/seed unchanged\n');
  });

  test('the Reason column appears only with -o wide (priority 1)', async () => {
    const wide = await cp.kubectl(['get', 'notifypipelines', '-n', ns.name, '-o', 'wide']);
    expect(wide.code).toBe(0);
    expect(wide.stdout.split('\n')[0]).toMatch(/\bREASON\b/);
    const plain = await cp.kubectl(['get', 'notifypipelines', '-n', ns.name]);
    expect(plain.stdout.split('\n')[0]).not.toMatch(/\bREASON\b/);
  });

  test('explain shows the schema description of spec.retry and its ladder field', async () => {
    const retrySchema = crd.spec.versions[0]!.schema!.openAPIV3Schema!.properties!.spec!.properties!.retry!;
    const out = await cp.kubectl(['explain', 'notifypipeline.spec.retry']);
    expect(out.code).toBe(0);
    const text = normalise(out.stdout);
    expect(text).toContain('KIND: NotifyPipeline');
    expect(text).toContain(normalise(retrySchema.description!));
    expect(text).toContain(normalise(retrySchema.properties!.ladder!.description!));
  });

  test('auth can-i reflects a Role bound to a ServiceAccount, and its token acts within it', async () => {
    const rbac = cp.kubeConfig().makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: ns.name,
      body: {
        metadata: { name: 'np-reader' },
        rules: [{ apiGroups: ['ladder.dev'], resources: ['notifypipelines'], verbs: ['get', 'list', 'watch'] }],
      },
    });
    const sa = await actAsServiceAccount(ns.name, 'reader');
    await rbac.createNamespacedRoleBinding({
      namespace: ns.name,
      body: {
        metadata: { name: 'np-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'np-reader' },
        subjects: [{ kind: 'ServiceAccount', name: sa.name, namespace: ns.name }],
      },
    });

    const canI = (verb: string, resource: string, namespace = ns.name) =>
      cp.kubectl(['auth', 'can-i', verb, resource, '-n', namespace, `--as=${sa.username}`]);
    expect(await canI('list', 'notifypipelines.ladder.dev')).toMatchObject({ code: 0, stdout: 'yes\n' });
    expect(await canI('watch', 'notifypipelines.ladder.dev')).toMatchObject({ code: 0, stdout: 'yes\n' });
    expect(await canI('delete', 'notifypipelines.ladder.dev')).toMatchObject({ code: 1, stdout: 'no\n' });
    expect(await canI('get', 'secrets')).toMatchObject({ code: 1, stdout: 'no\n' });
    expect(await canI('list', 'notifypipelines.ladder.dev', 'default')).toMatchObject({ code: 1, stdout: 'no\n' });

    // The same answers when acting as the ServiceAccount with its bound token.
    const asSa = await cp.kubectl(['get', 'np', '-o', 'name'], { kubeconfig: sa.kubeconfigPath });
    expect(asSa).toMatchObject({ code: 0, stdout: 'notifypipeline.ladder.dev/seed\n' });
    const whoami = await cp.kubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], { kubeconfig: sa.kubeconfigPath });
    expect(whoami.stdout).toBe(sa.username);

    const objects = sa.kubeConfig().makeApiClient(CustomObjectsApi);
    const list = (await objects.listNamespacedCustomObject({ group: 'ladder.dev', version: 'v1alpha1', namespace: ns.name, plural: 'notifypipelines' })) as {
      items: unknown[];
    };
    expect(list.items).toHaveLength(1);
    const denied = await objects
      .deleteNamespacedCustomObject({ group: 'ladder.dev', version: 'v1alpha1', namespace: ns.name, plural: 'notifypipelines', name: 'seed' })
      .then(() => undefined, (e: unknown) => e);
    expect(denied).toBeInstanceOf(ApiException);
    expect((denied as ApiException<unknown>).code).toBe(403);
  });
});
