/**
 * Least privilege, proven on the real API server: the rendered chart applies (server-side dry
 * run, then for real), and SubjectAccessReviews — the check behind `kubectl auth can-i --as` —
 * show that the operator's ServiceAccount may do exactly the agreed verbs and nothing else,
 * in both RBAC modes. A SelfSubjectRulesReview made with the ServiceAccount's own token lists
 * its rules, so nothing granted by other bindings goes unnoticed.
 */
import { AuthorizationV1Api, CoreV1Api, type V1ResourceAttributes } from '@kubernetes/client-node';
import { createNamespace, eventually, getControlPlane, installCrd, requestToken, uniqueName, writeTokenKubeconfig, type ControlPlane, type TestNamespace } from '../k8s/harness.js';
import { ALL_VERBS, CHART_DIR, flattenGrants, flattenRules, helmWithValues, LEASE_GRANT, NAMESPACED_GRANTS, renderChart, type Rule } from './support/chart.js';

interface Check {
  namespace: string; // '' = cluster-wide
  verb: string;
  group: string;
  resource: string; // resource or resource/subresource
  name?: string;
  allowed: boolean;
}

const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('Warning:'));
const label = (c: Check) => `${c.namespace || '<cluster>'} ${c.verb} ${c.group || 'core'}/${c.resource}${c.name ? `/${c.name}` : ''}`;

/** The same question `kubectl auth can-i VERB RESOURCE --as=system:serviceaccount:NS:SA` asks. */
async function canI(authz: AuthorizationV1Api, sa: { namespace: string; name: string }, c: Omit<Check, 'allowed'>): Promise<boolean> {
  const [resource, subresource] = c.resource.split('/');
  const resourceAttributes: V1ResourceAttributes = { verb: c.verb, group: c.group, resource, subresource, namespace: c.namespace, name: c.name };
  const review = await authz.createSubjectAccessReview({
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: `system:serviceaccount:${sa.namespace}:${sa.name}`,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${sa.namespace}`, 'system:authenticated'],
        resourceAttributes,
      },
    },
  });
  return review.status?.allowed === true;
}

/** Run every check; returns the mismatches as readable lines (empty = as expected). */
async function mismatches(authz: AuthorizationV1Api, sa: { namespace: string; name: string }, checks: Check[]): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < checks.length; i += 24) {
    const batch = checks.slice(i, i + 24);
    const results = await Promise.all(batch.map((c) => canI(authz, sa, c)));
    batch.forEach((c, j) => {
      if (results[j] !== c.allowed) out.push(`${label(c)}: expected ${c.allowed ? 'allowed' : 'DENIED'}, got ${results[j] ? 'allowed' : 'denied'}`);
    });
  }
  return out;
}

/** Every verb on every contract resource in `namespace`: allowed iff the contract lists it. */
function contractTable(namespace: string, granted: boolean): Check[] {
  return NAMESPACED_GRANTS.flatMap((g) =>
    ALL_VERBS.map((verb) => ({ namespace, verb, group: g.group, resource: g.resource, allowed: granted && g.verbs.includes(verb) })),
  );
}

/** Leader election: create any Lease, get/update only the operator's, only in the release namespace. */
function leaseTable(releaseNs: string, otherNs: string, leaseName: string): Check[] {
  const lease = { group: LEASE_GRANT.group, resource: 'leases' };
  return [
    { ...lease, namespace: releaseNs, verb: 'create', allowed: true },
    { ...lease, namespace: releaseNs, verb: 'get', name: leaseName, allowed: true },
    { ...lease, namespace: releaseNs, verb: 'update', name: leaseName, allowed: true },
    { ...lease, namespace: releaseNs, verb: 'get', name: 'someone-elses-lease', allowed: false },
    { ...lease, namespace: releaseNs, verb: 'update', name: 'someone-elses-lease', allowed: false },
    ...['list', 'watch', 'patch', 'delete', 'deletecollection'].map((verb) => ({ ...lease, namespace: releaseNs, verb, allowed: false })),
    { ...lease, namespace: otherNs, verb: 'create', allowed: false },
    { ...lease, namespace: otherNs, verb: 'get', name: leaseName, allowed: false },
  ];
}

/** Things no operator of ours may ever do, wherever it is allowed to work. */
function neverTable(namespace: string): Check[] {
  const denied = (verb: string, group: string, resource: string, ns = namespace): Check => ({ namespace: ns, verb, group, resource, allowed: false });
  return [
    denied('*', '*', '*'), // no cluster-admin, not even namespace-admin
    denied('*', '*', '*', ''),
    denied('create', '', 'pods/exec'),
    denied('get', '', 'pods'),
    denied('list', '', 'pods'),
    denied('create', '', 'pods'),
    denied('create', '', 'serviceaccounts/token'),
    denied('create', 'rbac.authorization.k8s.io', 'roles'),
    denied('create', 'rbac.authorization.k8s.io', 'rolebindings'),
    denied('escalate', 'rbac.authorization.k8s.io', 'roles'),
    denied('bind', 'rbac.authorization.k8s.io', 'clusterroles', ''),
    denied('impersonate', '', 'serviceaccounts'),
    denied('delete', 'apps', 'deployments'),
    denied('delete', '', 'configmaps'),
    denied('create', 'ladder.dev', 'notifypipelines'),
    denied('delete', 'ladder.dev', 'notifypipelines'),
    denied('list', '', 'secrets', ''),
    denied('get', 'apiextensions.k8s.io', 'customresourcedefinitions', ''),
    denied('list', '', 'namespaces', ''),
    denied('list', '', 'nodes', ''),
  ];
}

/** The SA's own view of its rules in a namespace (SelfSubjectRulesReview with its token). */
async function rulesSeenBy(cp: ControlPlane, namespace: string, saNs: string, saName: string): Promise<string[]> {
  const token = await requestToken(saNs, saName, { expirationSeconds: 600 });
  const kubeconfig = await writeTokenKubeconfig(token, { name: `${saNs}-${saName}`, namespace: saNs });
  // --validate=false: client-side validation would list CRDs, which the operator may not.
  const r = await cp.kubectl(['create', '--validate=false', '-o', 'json', '-f', '-'], {
    kubeconfig,
    input: JSON.stringify({ apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace } }),
  });
  if (r.code !== 0) throw new Error(`SelfSubjectRulesReview as ${saNs}/${saName} failed: ${r.stderr}`);
  const review = JSON.parse(r.stdout) as { status: { resourceRules: Rule[] } };
  // Every authenticated user may ask about their own access (system:basic-user); not ours.
  const selfReview = /^(authorization|authentication)\.k8s\.io\|self/;
  return flattenRules(review.status.resourceRules).filter((x) => !selfReview.test(x));
}

let cp: ControlPlane;
let authz: AuthorizationV1Api;
let core: CoreV1Api;
beforeAll(async () => {
  cp = await getControlPlane();
  authz = cp.kubeConfig().makeApiClient(AuthorizationV1Api);
  core = cp.kubeConfig().makeApiClient(CoreV1Api);
  await installCrd();
}, 180_000);

describe('watching a list of namespaces (Roles only)', () => {
  const release = uniqueName('lad').slice(0, 20);
  const sa = { namespace: '', name: `${release}-ladder` };
  let rel: TestNamespace, a: TestNamespace, b: TestNamespace, other: TestNamespace;
  let manifests = '';
  let manifestsWithoutCrd = '';

  beforeAll(async () => {
    [rel, a, b, other] = await Promise.all([createNamespace('ladder-system'), createNamespace('team-a'), createNamespace('team-b'), createNamespace('team-c')]);
    sa.namespace = rel.name;
    manifests = (await renderChart(cp, release, rel.name, { watchNamespaces: [a.name, b.name] })).text;
    manifestsWithoutCrd = (await renderChart(cp, release, rel.name, { watchNamespaces: [a.name, b.name], crds: { install: false } })).text;
  }, 60_000);
  afterAll(async () => {
    // Never the CRD: other test files share it.
    if (manifestsWithoutCrd !== '') await cp.kubectl(['delete', '--ignore-not-found', '--wait=false', '-f', '-'], { input: manifestsWithoutCrd });
    await Promise.all([rel, a, b, other].map((ns) => ns?.delete()));
  });

  test('the rendered chart, CRD included, passes a server-side dry run and creates nothing', async () => {
    const r = await cp.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: manifests });
    // A warning is fine (the shared CRD was created by installCrd, not by kubectl apply).
    expect({ code: r.code, errors: errorLines(r.stderr) }).toEqual({ code: 0, errors: [] });
    for (const what of ['customresourcedefinition.apiextensions.k8s.io/notifypipelines.ladder.dev', `serviceaccount/${sa.name}`, `deployment.apps/${sa.name}`, `role.rbac.authorization.k8s.io/${sa.name}`])
      expect(r.stdout).toContain(what);
    expect(r.stdout).toMatch(/\(server dry run\)/);
    await expect(core.readNamespacedServiceAccount({ namespace: rel.name, name: sa.name })).rejects.toMatchObject({ code: 404 });
  });

  test('it applies for real into fresh namespaces', async () => {
    const r = await cp.kubectl(['apply', '-f', '-'], { input: manifestsWithoutCrd });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const got = await cp.kubectl(['get', 'serviceaccount,deployment,role,rolebinding,poddisruptionbudget', '-n', rel.name, '-o', 'name']);
    expect(got.stdout.split('\n').filter(Boolean).sort()).toEqual(
      [
        `deployment.apps/${sa.name}`,
        `poddisruptionbudget.policy/${sa.name}`,
        `role.rbac.authorization.k8s.io/${sa.name}-leader-election`,
        `rolebinding.rbac.authorization.k8s.io/${sa.name}-leader-election`,
        `serviceaccount/${sa.name}`,
      ].sort(),
    );
  });

  test('the ServiceAccount may do exactly the contract in the watched namespaces and nothing anywhere else', async () => {
    await eventually(async () => ((await canI(authz, sa, { namespace: a.name, verb: 'get', group: '', resource: 'secrets' })) ? true : undefined), {
      what: 'the RoleBinding to take effect',
    });
    const checks = [
      ...contractTable(a.name, true),
      ...contractTable(b.name, true),
      ...contractTable(other.name, false), // not watched
      ...contractTable(rel.name, false), // the release namespace is not watched either
      ...contractTable('', false), // no cluster-wide grant at all
      ...leaseTable(rel.name, a.name, 'ladder-operator'),
      ...neverTable(a.name),
    ];
    expect(checks.filter((c) => c.allowed).length).toBe(2 * flattenGrants(NAMESPACED_GRANTS).length + 3);
    expect(await mismatches(authz, sa, checks)).toEqual([]);
  });

  test('kubectl auth can-i --as the ServiceAccount agrees with the reviews', async () => {
    const as = `--as=system:serviceaccount:${sa.namespace}:${sa.name}`;
    const ask = async (...args: string[]) => (await cp.kubectl(['auth', 'can-i', ...args, as])).stdout.trim();
    expect(await ask('get', 'secrets', '-n', a.name)).toBe('yes');
    expect(await ask('list', 'secrets', '-n', a.name)).toBe('no');
    expect(await ask('update', 'notifypipelines.ladder.dev', '--subresource=status', '-n', b.name)).toBe('yes');
    expect(await ask('delete', 'notifypipelines.ladder.dev', '-n', a.name)).toBe('no');
    expect(await ask('create', 'pods', '--subresource=exec', '-n', a.name)).toBe('no');
    expect(await ask('get', 'secrets', '-n', other.name)).toBe('no');
    expect(await ask('*', '*', '--all-namespaces')).toBe('no');
    expect(await ask('update', 'leases.coordination.k8s.io/ladder-operator', '-n', rel.name)).toBe('yes');
  });

  test("the ServiceAccount's own rules review lists the contract in a watched namespace, leases at home, nothing elsewhere", async () => {
    expect(await rulesSeenBy(cp, a.name, sa.namespace, sa.name)).toEqual(flattenGrants(NAMESPACED_GRANTS));
    expect(await rulesSeenBy(cp, other.name, sa.namespace, sa.name)).toEqual([]);
    expect(await rulesSeenBy(cp, rel.name, sa.namespace, sa.name)).toEqual([
      'coordination.k8s.io|leases|create',
      'coordination.k8s.io|leases|get|ladder-operator',
      'coordination.k8s.io|leases|update|ladder-operator',
    ]);
  });
});

describe('watching every namespace (helm install)', () => {
  const release = uniqueName('lad').slice(0, 20);
  const sa = { namespace: '', name: `${release}-ladder` };
  let rel: TestNamespace, anyNs: TestNamespace;
  let installed = false;

  beforeAll(async () => {
    [rel, anyNs] = await Promise.all([createNamespace('ladder-system'), createNamespace('anywhere')]);
    sa.namespace = rel.name;
  }, 60_000);
  afterAll(async () => {
    if (installed) await cp.helm(['uninstall', release, '--namespace', rel.name, '--wait=false']);
    await Promise.all([rel, anyNs].map((ns) => ns?.delete()));
  });

  test('helm install succeeds (CRD managed outside this release)', async () => {
    // crds.install=false: the CRD is shared by every test file of this run (installCrd above).
    const r = await helmWithValues(cp, ['install', release, CHART_DIR, '--namespace', rel.name], { crds: { install: false } });
    installed = r.code === 0;
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toContain('STATUS: deployed');
  });

  test('a wrong value makes helm install fail with the schema message before anything is created', async () => {
    const r = await helmWithValues(cp, ['install', `${release}-bad`, CHART_DIR, '--namespace', rel.name], { replicas: 'two', crds: { install: false } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/at '\/replicas': got string, want integer/);
    const list = await cp.helm(['list', '--namespace', rel.name, '-q']);
    expect(list.stdout.split('\n').filter(Boolean)).toEqual([release]);
  });

  test('the ServiceAccount may do exactly the contract in any namespace, leases only at home', async () => {
    await eventually(async () => ((await canI(authz, sa, { namespace: anyNs.name, verb: 'get', group: '', resource: 'secrets' })) ? true : undefined), {
      what: 'the ClusterRoleBinding to take effect',
    });
    const checks = [
      ...contractTable(anyNs.name, true),
      ...contractTable('', true), // cluster-wide list/watch across namespaces
      ...leaseTable(rel.name, anyNs.name, 'ladder-operator'),
      ...neverTable(anyNs.name),
    ];
    expect(await mismatches(authz, sa, checks)).toEqual([]);
    expect(await rulesSeenBy(cp, anyNs.name, sa.namespace, sa.name)).toEqual(flattenGrants(NAMESPACED_GRANTS));
  });

  test('helm upgrade changes the Deployment; helm uninstall removes the cluster-wide grant', async () => {
    const up = await helmWithValues(cp, ['upgrade', release, CHART_DIR, '--namespace', rel.name], { crds: { install: false }, logLevel: 'debug' });
    expect({ code: up.code, stderr: up.stderr }).toEqual({ code: 0, stderr: '' });
    const dep = await cp.kubectl(['get', 'deployment', sa.name, '-n', rel.name, '-o', 'jsonpath={.spec.template.spec.containers[0].args}']);
    expect(JSON.parse(dep.stdout)).toEqual(expect.arrayContaining(['--log-level', 'debug']));

    const un = await cp.helm(['uninstall', release, '--namespace', rel.name]);
    expect(un.code).toBe(0);
    installed = false;
    const left = await cp.kubectl(['get', 'clusterrole,clusterrolebinding', '-l', `app.kubernetes.io/instance=${release}`, '-o', 'name']);
    expect(left.stdout.trim()).toBe('');
    expect(await canI(authz, sa, { namespace: anyNs.name, verb: 'get', group: '', resource: 'secrets' })).toBe(false);
  });
});
