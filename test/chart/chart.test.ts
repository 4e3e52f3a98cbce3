/**
 * The Helm chart as rendered by the real helm: lint, the values schema, the CRD copy, the
 * operator Deployment, and the shape of the RBAC in both modes (all namespaces / a list).
 * rbac.test.ts applies it to the API server; operator.test.ts runs the operator with it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { getControlPlane, type ControlPlane } from '../k8s/harness.js';
import {
  CHART_DIR,
  find,
  flattenGrants,
  flattenRules,
  helmWithValues,
  LEASE_GRANT,
  NAMESPACED_GRANTS,
  renderChart,
  REPO,
  type K8sObject,
  type Rule,
} from './support/chart.js';

let cp: ControlPlane;
beforeAll(async () => {
  cp = await getControlPlane();
}, 180_000);

const chart = parse(readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8')) as { apiVersion: string; appVersion: string; version: string };

type Container = {
  command: string[];
  args: string[];
  image: string;
  env: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  securityContext: Record<string, unknown>;
};
type PodSpec = {
  serviceAccountName: string;
  automountServiceAccountToken: boolean;
  securityContext: Record<string, unknown>;
  containers: Container[];
  priorityClassName?: string;
  nodeSelector?: Record<string, string>;
  tolerations?: unknown[];
  affinity?: unknown;
};
type Deployment = K8sObject & { spec: { replicas: number; template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec } } };

/** `--flag value` pairs of the operator's arguments (and bare boolean flags as "true"). */
function flags(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const next = args[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      out[a] = next;
      i++;
    } else out[a] = 'true';
  }
  return out;
}

describe('the chart', () => {
  test('is a Helm v2 chart whose appVersion is the package version', () => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
    expect(chart.apiVersion).toBe('v2');
    expect(chart.appVersion).toBe(pkg.version);
  });

  test.each([
    ['the default values', {}],
    ['a list of watched namespaces', { watchNamespaces: ['team-a', 'team-b'] }],
    ['metrics on, one replica, no leader election', { metrics: { port: 9090 }, replicas: 1, leaderElection: { enabled: false, leaseName: 'x' } }],
  ])('helm lint --strict passes with %s', async (_, values) => {
    const r = await helmWithValues(cp, ['lint', '--strict', CHART_DIR], values);
    expect({ code: r.code, out: r.stdout + r.stderr }).toEqual({ code: 0, out: expect.stringContaining('1 chart(s) linted, 0 chart(s) failed') });
  });

  test("the chart's CRD is a byte-for-byte copy of the generated crds/ file (npm run chart:sync-crd)", () => {
    const generated = readFileSync(join(REPO, 'crds', 'notifypipelines.ladder.dev.yaml'), 'utf8');
    const copy = readFileSync(join(CHART_DIR, 'files', 'notifypipelines.ladder.dev.yaml'), 'utf8');
    // On failure: run `npm run chart:sync-crd` and commit charts/ladder/files/.
    expect(copy === generated).toBe(true);
  });

  test('renders the generated CRD unchanged apart from labels and the keep annotation', async () => {
    const { objects } = await renderChart(cp, 'crdcheck', 'ops');
    const [crd] = find(objects, 'CustomResourceDefinition');
    const generated = parse(readFileSync(join(REPO, 'crds', 'notifypipelines.ladder.dev.yaml'), 'utf8')) as K8sObject;
    expect(crd).toBeDefined();
    expect(crd!.metadata.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
    expect(crd!.metadata.labels).toMatchObject({ ...generated.metadata.labels, 'app.kubernetes.io/managed-by': 'Helm' });
    const strip = (o: K8sObject) => ({ ...o, metadata: { name: o.metadata.name } });
    expect(strip(crd!)).toEqual(strip(generated));
  });

  test('crds.install=false leaves the CRD out; crds.keep=false drops the keep annotation', async () => {
    const off = await renderChart(cp, 'nocrd', 'ops', { crds: { install: false } });
    expect(find(off.objects, 'CustomResourceDefinition')).toEqual([]);
    const notKept = await renderChart(cp, 'nokeep', 'ops', { crds: { install: true, keep: false } });
    expect(find(notKept.objects, 'CustomResourceDefinition')[0]?.metadata.annotations).toBeUndefined();
  });

  // Each wrong value fails `helm template` (and so `helm install`) with the schema's message.
  test.each<[string, Record<string, unknown>, RegExp]>([
    ['replicas as a word', { replicas: 'two' }, /at '\/replicas': got string, want integer/],
    ['an unknown log level', { logLevel: 'loud' }, /at '\/logLevel': value must be one of 'debug', 'info', 'warn', 'error'/],
    ['watchNamespaces as a string', { watchNamespaces: 'team-a,team-b' }, /at '\/watchNamespaces': got string, want array/],
    ['a namespace that is not a DNS label', { watchNamespaces: ['Team_A'] }, /at '\/watchNamespaces\/0': .*does not match pattern/],
    ['a misspelt top-level key', { replica: 3 }, /additional properties 'replica' not allowed/],
    ['an unknown pull policy', { image: { repository: 'r', pullPolicy: 'Sometimes' } }, /at '\/image\/pullPolicy': value must be one of/],
    ['a resync that is not a duration', { resync: 'soon' }, /at '\/resync': .*does not match pattern/],
    ['a metrics port out of range', { metrics: { port: 70000 } }, /at '\/metrics\/port': maximum: got 70,000, want 65,535/],
    ['zero concurrency', { concurrency: 0 }, /at '\/concurrency': minimum: got 0, want 1/],
  ])('rejects %s with a clear message', async (_, values, message) => {
    const r = await helmWithValues(cp, ['template', 'bad', CHART_DIR, '--namespace', 'ops'], values);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/values don't meet the specifications of the schema/);
    expect(r.stderr).toMatch(message);
  });

  test('the operator Deployment runs `ladder operator` with the agreed flags, probes and downward-API identity', async () => {
    const { objects } = await renderChart(cp, 'rel', 'ops');
    const [dep] = find(objects, 'Deployment') as Deployment[];
    expect(dep!.metadata.namespace).toBe('ops');
    expect(dep!.spec.replicas).toBe(2);
    const pod = dep!.spec.template.spec;
    const c = pod.containers[0]!;
    expect(c.command).toEqual(['ladder', 'operator']);
    expect(c.image).toBe(`ghcr.io/ladder-dev/ladder:${chart.appVersion}`);
    expect(flags(c.args)).toEqual({
      '--log-level': 'info',
      '--health-port': '8081',
      '--metrics-port': '0',
      '--worker-image': `ghcr.io/ladder-dev/ladder:${chart.appVersion}`,
      '--leader-elect': 'true',
      '--lease-namespace': 'ops',
      '--lease-name': 'ladder-operator',
      '--resync': '30s',
      '--concurrency': '4',
    });
    expect(c.args).not.toContain('--namespaces'); // empty list = all namespaces
    expect(c.env.filter((e) => e.valueFrom?.fieldRef).map((e) => [e.name, e.valueFrom!.fieldRef!.fieldPath])).toEqual([
      ['POD_NAME', 'metadata.name'],
      ['POD_NAMESPACE', 'metadata.namespace'],
    ]);
    expect(c.ports).toEqual([{ name: 'health', containerPort: 8081, protocol: 'TCP' }]);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'health' });
    expect(find(objects, 'PodDisruptionBudget')).toHaveLength(1);
    expect(find(objects, 'Service')).toEqual([]);
  });

  test('the operator pod is restricted: non-root 10001, read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp', async () => {
    const { objects } = await renderChart(cp, 'rel', 'ops');
    const [dep] = find(objects, 'Deployment') as Deployment[];
    const pod = dep!.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.containers[0]!.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 10001,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    // Only the operator pod mounts a token; the ServiceAccount does not hand one to every pod.
    expect(pod.automountServiceAccountToken).toBe(true);
    const [sa] = find(objects, 'ServiceAccount');
    expect(sa!['automountServiceAccountToken']).toBe(false);
    expect(pod.serviceAccountName).toBe(sa!.metadata.name);
  });

  test('values reach the Deployment: namespaces, image, worker image, scheduling, labels, annotations, metrics', async () => {
    const { objects } = await renderChart(cp, 'rel', 'ops', {
      watchNamespaces: ['team-a', 'team-b'],
      image: { repository: 'registry.example/ladder', tag: '9.9.9', pullPolicy: 'Always' },
      imagePullSecrets: [{ name: 'regcred' }],
      workerImage: 'registry.example/ladder-worker:1.2.3',
      logLevel: 'debug',
      replicas: 1,
      metrics: { port: 9090 },
      leaderElection: { enabled: false, leaseName: 'ladder-operator' },
      priorityClassName: 'system-cluster-critical',
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'ops', effect: 'NoSchedule' }],
      affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'Exists' }] }] } } },
      commonLabels: { team: 'payments' },
      podLabels: { tier: 'control' },
      podAnnotations: { 'example.com/scrape': 'true' },
    });
    const [dep] = find(objects, 'Deployment') as Deployment[];
    const pod = dep!.spec.template.spec;
    const c = pod.containers[0]!;
    expect(c.image).toBe('registry.example/ladder:9.9.9');
    expect(flags(c.args)).toMatchObject({
      '--namespaces': 'team-a,team-b',
      '--log-level': 'debug',
      '--metrics-port': '9090',
      '--worker-image': 'registry.example/ladder-worker:1.2.3',
      '--no-leader-elect': 'true',
    });
    expect(c.args).not.toContain('--leader-elect');
    expect(c.ports).toContainEqual({ name: 'metrics', containerPort: 9090, protocol: 'TCP' });
    expect(pod).toMatchObject({
      priorityClassName: 'system-cluster-critical',
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'dedicated' }],
      affinity: { nodeAffinity: {} },
      imagePullSecrets: [{ name: 'regcred' }],
    });
    expect(dep!.spec.template.metadata.labels).toMatchObject({ team: 'payments', tier: 'control' });
    expect(dep!.spec.template.metadata.annotations).toEqual({ 'example.com/scrape': 'true' });
    for (const o of objects) expect([o.kind, o.metadata.labels?.['team']]).toEqual([o.kind, 'payments']);
    expect(find(objects, 'Service')).toHaveLength(1);
    expect(find(objects, 'PodDisruptionBudget')).toEqual([]); // one replica: a PDB would block drains
    expect(find(objects, 'Role').map((r) => r.metadata.name)).not.toContain('rel-ladder-leader-election');
  });

  test('watching every namespace: one ClusterRole holding exactly the contract, leases only in the release namespace', async () => {
    const { objects } = await renderChart(cp, 'rel', 'ops');
    const [cr] = find(objects, 'ClusterRole') as (K8sObject & { rules: Rule[] })[];
    expect(flattenRules(cr!.rules)).toEqual(flattenGrants(NAMESPACED_GRANTS));
    const [crb] = find(objects, 'ClusterRoleBinding') as (K8sObject & { subjects: unknown[]; roleRef: { name: string } })[];
    expect(crb!.roleRef.name).toBe(cr!.metadata.name);
    expect(crb!.subjects).toEqual([{ kind: 'ServiceAccount', name: 'rel-ladder', namespace: 'ops' }]);
    const roles = find(objects, 'Role') as (K8sObject & { rules: Rule[] })[];
    expect(roles.map((r) => `${r.metadata.namespace}/${r.metadata.name}`)).toEqual(['ops/rel-ladder-leader-election']);
    const leaseRules = flattenRules(roles[0]!.rules);
    expect(leaseRules).toEqual(
      ['coordination.k8s.io|leases|create', 'coordination.k8s.io|leases|get|ladder-operator', 'coordination.k8s.io|leases|update|ladder-operator'],
    );
    // The contract's verbs, get and update narrowed to the operator's own Lease.
    expect(leaseRules.map((r) => r.split('|').slice(0, 3).join('|')).sort()).toEqual(flattenGrants([LEASE_GRANT]));
  });

  test('watching a list of namespaces: a Role per namespace with the contract and no cluster-wide grant', async () => {
    const { objects } = await renderChart(cp, 'rel', 'ops', { watchNamespaces: ['team-a', 'team-b'] });
    expect(find(objects, 'ClusterRole')).toEqual([]);
    expect(find(objects, 'ClusterRoleBinding')).toEqual([]);
    const roles = find(objects, 'Role') as (K8sObject & { rules: Rule[] })[];
    expect(roles.map((r) => `${r.metadata.namespace}/${r.metadata.name}`).sort()).toEqual(['ops/rel-ladder-leader-election', 'team-a/rel-ladder', 'team-b/rel-ladder']);
    for (const ns of ['team-a', 'team-b']) {
      expect(flattenRules(find(objects, 'Role', 'rel-ladder', ns)[0]!['rules'] as Rule[])).toEqual(flattenGrants(NAMESPACED_GRANTS));
      const [rb] = find(objects, 'RoleBinding', 'rel-ladder', ns) as (K8sObject & { subjects: unknown[]; roleRef: unknown })[];
      expect(rb!.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'rel-ladder' });
      expect(rb!.subjects).toEqual([{ kind: 'ServiceAccount', name: 'rel-ladder', namespace: 'ops' }]);
    }
  });

  test('rbac.create=false and an existing ServiceAccount render no RBAC and use that account', async () => {
    const { objects } = await renderChart(cp, 'rel', 'ops', { rbac: { create: false }, serviceAccount: { create: false, name: 'platform-ladder' } });
    for (const kind of ['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'ServiceAccount']) expect(find(objects, kind)).toEqual([]);
    const [dep] = find(objects, 'Deployment') as Deployment[];
    expect(dep!.spec.template.spec.serviceAccountName).toBe('platform-ladder');
  });
});
