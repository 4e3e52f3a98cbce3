/**
 * The chart's RBAC is enough: the operator runs as a child process with the chart's own
 * ServiceAccount (a TokenRequest token in a kubeconfig), the chart's own arguments, scoped to
 * one namespace, and takes a NotifyPipeline all the way to Ready — Lease, finalizer, topology
 * on the real RabbitMQ, ConfigMap, worker Deployment, status, events — with no "forbidden".
 * The cluster has no controller-manager, so the test plays its part: it reports the worker
 * Deployment available, as the Deployment controller would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from 'rabbitmq-client';
import { stringify } from 'yaml';
import { createNamespace, eventually, getControlPlane, installCrd, requestToken, uniqueName, writeTokenKubeconfig, type ControlPlane, type TestNamespace } from '../k8s/harness.js';
import { find, renderChart, REPO } from './support/chart.js';

const AMQP_URL = process.env['AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';
const NODE24 = join(REPO, 'node_modules', 'node', 'bin', 'node');
const CLI = join(REPO, 'dist', 'cli', 'main.js');

interface Condition {
  type: string;
  status: string;
  reason: string;
}
interface Pipeline {
  metadata: { finalizers?: string[] };
  status?: { conditions?: Condition[]; workers?: string };
}

let cp: ControlPlane;
let rel: TestNamespace;
let watched: TestNamespace;
let amqp: Connection;
let manifests = '';
let operator: ChildProcess | undefined;
const logs: string[] = [];
const release = uniqueName('op').slice(0, 18);
const saName = `${release}-ladder`;
const pipelineName = 'alipay';
const podName = `${saName}-7d9f8-abcde`;

async function kubectl(args: string[], input?: string): Promise<string> {
  const r = await cp.kubectl(args, { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

async function getJson<T>(args: string[]): Promise<T | undefined> {
  const r = await cp.kubectl([...args, '-o', 'json']);
  return r.code === 0 ? (JSON.parse(r.stdout) as T) : undefined;
}

const describeOperator = () => `operator exit: ${operator?.exitCode ?? 'running'}\nlast operator logs:\n${logs.slice(-20).join('\n')}`;
const condition = (p: Pipeline | undefined, type: string) => p?.status?.conditions?.find((c) => c.type === type);
const queues = () => [`ladder.${watched.name}.${pipelineName}.work`, `ladder.${watched.name}.${pipelineName}.delay.200ms`, `ladder.${watched.name}.${pipelineName}.delay.400ms`, `ladder.${watched.name}.${pipelineName}.parked`];

beforeAll(async () => {
  if (!existsSync(join(REPO, 'dist', 'cli', 'commands', 'operator.js'))) throw new Error('dist/ has no operator command: run `npm run build` first (npm test does)');
  cp = await getControlPlane();
  await installCrd();
  [rel, watched] = await Promise.all([createNamespace('ladder-system'), createNamespace('payments')]);
  amqp = new Connection({ url: AMQP_URL, connectionName: 'ladder-chart-test', retryLow: 100, retryHigh: 1000 });
  amqp.on('error', () => {});

  // The chart, scoped to one namespace, exactly as `helm install` would create it.
  const rendered = await renderChart(cp, release, rel.name, { watchNamespaces: [watched.name], crds: { install: false } });
  manifests = rendered.text;
  await kubectl(['apply', '-f', '-'], manifests);

  // The operator as the chart's ServiceAccount, with the chart's own arguments.
  const token = await requestToken(rel.name, saName, { expirationSeconds: 3600 });
  const kubeconfig = await writeTokenKubeconfig(token, { name: saName, namespace: rel.name });
  const [dep] = find(rendered.objects, 'Deployment') as unknown as { spec: { template: { spec: { containers: { command: string[]; args: string[] }[] } } } }[];
  const container = dep!.spec.template.spec.containers[0]!;
  expect(container.command).toEqual(['ladder', 'operator']);
  const args = container.args.map((a, i, all) => (all[i - 1] === '--health-port' ? '0' : a)); // any free port here
  operator = spawn(NODE24, [CLI, 'operator', ...args, '--kubeconfig', kubeconfig, '--log-level', 'debug'], {
    cwd: REPO,
    env: { PATH: process.env['PATH'], HOME: process.env['HOME'], POD_NAME: podName, POD_NAMESPACE: rel.name },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [operator.stdout!, operator.stderr!]) {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buf += chunk;
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      logs.push(...lines.filter((l) => l !== ''));
    });
  }
}, 180_000);

afterAll(async () => {
  if (operator !== undefined && operator.exitCode === null) {
    const exited = new Promise<void>((r) => operator!.once('exit', () => r()));
    operator.kill('SIGTERM');
    const timer = setTimeout(() => operator!.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  for (const q of watched ? queues() : []) await amqp.queueDelete({ queue: q }).catch(() => {});
  if (watched) await amqp.exchangeDelete({ exchange: `${watched.name}.notify` }).catch(() => {});
  await amqp?.close();
  if (manifests !== '') await cp.kubectl(['delete', '--ignore-not-found', '--wait=false', '-f', '-'], { input: manifests });
  await Promise.all([rel, watched].map((ns) => ns?.delete()));
}, 30_000);

test('the operator takes the Lease in the release namespace as its pod', async () => {
  const lease = await eventually(
    async () => {
      const l = await getJson<{ spec: { holderIdentity?: string } }>(['get', 'lease', 'ladder-operator', '-n', rel.name]);
      return l?.spec.holderIdentity === podName ? l : undefined;
    },
    { what: 'the operator to hold the Lease', timeoutMs: 30_000, describe: describeOperator },
  );
  expect(lease.spec.holderIdentity).toBe(podName);
});

test('its health endpoints answer on the probe paths', async () => {
  const port = await eventually(
    () => {
      for (const l of logs) {
        const entry = JSON.parse(l) as { msg?: string; port?: number };
        if (entry.msg === 'health server listening' && typeof entry.port === 'number') return entry.port;
      }
      return undefined;
    },
    { what: 'the health server port in the logs', describe: describeOperator },
  );
  for (const path of ['/healthz', '/readyz']) {
    const status = await eventually(async () => ((await fetch(`http://127.0.0.1:${port}${path}`)).status === 200 ? 200 : undefined), {
      what: `GET ${path} = 200`,
      describe: describeOperator,
    });
    expect(status).toBe(200);
  }
});

test('a NotifyPipeline is reported (Event) until its RabbitMQ Secret exists, then becomes Ready with its ConfigMap and worker Deployment', async () => {
  const pipeline = {
    apiVersion: 'ladder.dev/v1alpha1',
    kind: 'NotifyPipeline',
    metadata: { name: pipelineName, namespace: watched.name },
    spec: {
      rabbitmq: { secretRef: { name: 'rabbitmq', key: 'uri' } },
      source: { exchange: `${watched.name}.notify`, exchangeType: 'topic', durable: false, routingKey: 'AliPaynotify' },
      retry: { ladder: ['200ms', '400ms'] },
      delivery: { target: { fromBody: true }, timeout: '2s', success: { preset: 'alipay' } },
      queues: { type: 'classic' },
      workers: { replicas: 1, concurrency: 8 },
    },
  };
  const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'rabbitmq', namespace: watched.name }, stringData: { uri: AMQP_URL } };
  // First without its Secret: the operator must be able to say so with an Event.
  await kubectl(['apply', '-f', '-'], stringify(pipeline));
  const warning = await eventually(
    async () => {
      const list = await getJson<{ items: { type: string; reason: string; reportingController: string; regarding: { name: string } }[] }>(['get', 'events.events.k8s.io', '-n', watched.name]);
      return list?.items.find((e) => e.regarding.name === pipelineName && e.type === 'Warning');
    },
    { what: 'a Warning event about the missing Secret', timeoutMs: 30_000, describe: describeOperator },
  );
  expect(warning.reportingController).toMatch(/ladder/);
  await kubectl(['apply', '-f', '-'], stringify(secret));

  const name = `${pipelineName}-ladder`;
  const topologyReady = await eventually(
    async () => {
      const p = await getJson<Pipeline>(['get', 'notifypipeline', pipelineName, '-n', watched.name]);
      return condition(p, 'TopologyReady')?.status === 'True' ? p : undefined;
    },
    { what: 'TopologyReady=True', timeoutMs: 30_000, describe: describeOperator },
  );
  expect(topologyReady.metadata.finalizers?.length).toBeGreaterThan(0);
  const configMap = await getJson<{ data: Record<string, string> }>(['get', 'configmap', name, '-n', watched.name]);
  expect(configMap?.data['pipeline.yaml']).toContain(`name: ${pipelineName}`);
  const deployment = await eventually(() => getJson<{ spec: { template: { spec: { containers: { command: string[] }[] } } } }>(['get', 'deployment', name, '-n', watched.name]), {
    what: 'the worker Deployment',
    describe: describeOperator,
  });
  expect(deployment.spec.template.spec.containers[0]!.command.slice(0, 2)).toEqual(['ladder', 'worker']);
  for (const q of queues()) expect([q, (await amqp.queueDeclare({ queue: q, passive: true })).queue]).toEqual([q, q]);

  // Play the Deployment controller (absent here): the worker pods are up.
  await kubectl(['patch', 'deployment', name, '-n', watched.name, '--subresource=status', '--type=merge', '-p',
    JSON.stringify({ status: { observedGeneration: 1, replicas: 1, readyReplicas: 1, availableReplicas: 1, updatedReplicas: 1 } })]);
  const ready = await eventually(
    async () => {
      const p = await getJson<Pipeline>(['get', 'notifypipeline', pipelineName, '-n', watched.name]);
      return condition(p, 'Ready')?.status === 'True' ? p : undefined;
    },
    { what: 'Ready=True', timeoutMs: 30_000, describe: describeOperator },
  );
  expect(condition(ready, 'WorkersAvailable')?.status).toBe('True');
}, 60_000);

test('deleting the pipeline (Retain) releases the finalizer, and nothing the operator did was forbidden', async () => {
  await kubectl(['delete', 'notifypipeline', pipelineName, '-n', watched.name, '--wait=false']);
  await eventually(async () => ((await cp.kubectl(['get', 'notifypipeline', pipelineName, '-n', watched.name])).code !== 0 ? true : undefined), {
    what: 'the pipeline to be gone',
    timeoutMs: 30_000,
    describe: describeOperator,
  });
  const denied = logs.filter((l) => /forbidden|\b403\b/i.test(l));
  expect(denied).toEqual([]);
  expect(operator?.exitCode).toBeNull();
}, 45_000);
