/** Helpers for operator tests: the real kube-apiserver (harness), the real RabbitMQ, an in-process operator. */
import { CoreV1Api, CustomObjectsApi, AppsV1Api, PatchStrategy, setHeaderOptions, Watch, type KubeConfig } from '@kubernetes/client-node';
import { Connection } from 'rabbitmq-client';
import { stringify } from 'yaml';
import { createLogger, type Logger } from '../../src/common/index.js';
import { startOperator, type OperatorOptions, type RunningOperator } from '../../src/operator/index.js';
import { createNamespace, eventually, getControlPlane, installCrd, type ControlPlane, type TestNamespace } from '../k8s/harness.js';

export const AMQP_URL = process.env['AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';

export interface Pipeline {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; uid?: string; generation?: number; resourceVersion?: string; finalizers?: string[]; deletionTimestamp?: string };
  spec: Record<string, any>;
  status?: Record<string, any>;
}

/** A test pipeline: classic queues and a millisecond ladder unless told otherwise, loopback allowed. */
export function pipeline(namespace: string, name: string, spec: { ladder?: string[]; queues?: 'classic' | 'quorum'; replicas?: number; secret?: string; key?: string; deletionPolicy?: 'Retain' | 'Delete'; target?: Record<string, unknown>; declare?: boolean } = {}): Pipeline {
  return {
    apiVersion: 'ladder.dev/v1alpha1',
    kind: 'NotifyPipeline',
    metadata: { name, namespace },
    spec: {
      rabbitmq: { secretRef: { name: spec.secret ?? 'rabbitmq', key: spec.key ?? 'uri' } },
      source: { exchange: `${namespace}.notify`, exchangeType: 'topic', durable: false, routingKey: 'notify', declare: spec.declare ?? true },
      retry: { ladder: spec.ladder ?? ['200ms', '400ms'] },
      delivery: { target: spec.target ?? { fromBody: true }, timeout: '2s', success: { preset: 'alipay' }, allowPrivateNetworks: true },
      queues: { type: spec.queues ?? 'classic' },
      workers: { replicas: spec.replicas ?? 1, concurrency: 8 },
      deletionPolicy: spec.deletionPolicy ?? 'Retain',
    },
  };
}

export function secretYaml(namespace: string, name: string, data: Record<string, string>): string {
  return stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, stringData: data });
}

export interface Env {
  cp: ControlPlane;
  ns: TestNamespace;
  kc: KubeConfig;
  custom: CustomObjectsApi;
  core: CoreV1Api;
  apps: AppsV1Api;
  amqp: Connection;
  /** Every log line the in-process operators wrote. */
  logs: string[];
  logger: Logger;
  /** Queues to delete after the file (added as tests create pipelines). */
  queues: Set<string>;
  exchanges: Set<string>;
  operators: RunningOperator[];
  kubectl(args: string[], input?: string): Promise<string>;
  apply(...docs: Array<Pipeline | string>): Promise<void>;
  get(name: string): Promise<Pipeline | undefined>;
  /** Poll the pipeline until `check` gives a value. */
  until<T>(name: string, what: string, check: (p: Pipeline) => T | undefined | false, timeoutMs?: number): Promise<T>;
  start(options?: Partial<OperatorOptions>): RunningOperator;
  cleanup(): Promise<void>;
}

export const condition = (p: Pipeline | undefined, type: string): { status: string; reason: string; message: string; lastTransitionTime: string; observedGeneration?: number } | undefined =>
  p?.status?.['conditions']?.find((c: { type: string }) => c.type === type);

export function queueNames(namespace: string, name: string, ladder: string[]): string[] {
  const prefix = `ladder.${namespace}.${name}`;
  return [`${prefix}.work`, ...ladder.map((d) => `${prefix}.delay.${d}`), `${prefix}.parked`];
}

export async function setup(prefix: string): Promise<Env> {
  const cp = await getControlPlane();
  await installCrd();
  const ns = await createNamespace(prefix);
  const kc = cp.kubeConfig();
  const amqp = new Connection({ url: AMQP_URL, connectionName: 'ladder-operator-test', retryLow: 100, retryHigh: 1000 });
  amqp.on('error', () => {});
  const logs: string[] = [];
  const logger = createLogger({ level: 'debug', write: (l) => logs.push(l) });
  const custom = kc.makeApiClient(CustomObjectsApi);
  const env: Env = {
    cp,
    ns,
    kc,
    custom,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    amqp,
    logs,
    logger,
    queues: new Set(),
    exchanges: new Set([`${ns.name}.notify`]),
    operators: [],
    async kubectl(args, input) {
      const r = await cp.kubectl(args, { input });
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
      return r.stdout;
    },
    async apply(...docs) {
      const text = docs.map((d) => (typeof d === 'string' ? d : stringify(d))).join('\n---\n');
      for (const d of docs) if (typeof d !== 'string') for (const q of queueNames(d.metadata.namespace, d.metadata.name, d.spec['retry'].ladder)) env.queues.add(q);
      await env.kubectl(['apply', '-f', '-'], text);
    },
    async get(name) {
      try {
        return (await custom.getNamespacedCustomObject({ group: 'ladder.dev', version: 'v1alpha1', namespace: ns.name, plural: 'notifypipelines', name })) as Pipeline;
      } catch (e) {
        if ((e as { code?: number }).code === 404) return undefined;
        throw e;
      }
    },
    async until(name, what, check, timeoutMs = 15_000) {
      let last: Pipeline | undefined;
      return eventually(
        async () => {
          last = await env.get(name);
          if (last === undefined) return undefined;
          const v = check(last);
          return v === false || v === undefined ? undefined : v;
        },
        { what: `${name}: ${what}`, timeoutMs, intervalMs: 50, describe: () => `last status: ${JSON.stringify(last?.status)}\nlast logs:\n${logs.slice(-15).join('\n')}` },
      );
    },
    start(options = {}) {
      const op = startOperator({ kubeConfig: kc, logger, namespaces: [ns.name], leaderElect: false, resyncMs: 1000, pollMs: 300, brokerTimeoutMs: 2000, ...options });
      env.operators.push(op);
      return op;
    },
    async cleanup() {
      for (const op of env.operators) await op.close().catch(() => {});
      for (const q of env.queues) await amqp.queueDelete({ queue: q }).catch(() => {});
      for (const x of env.exchanges) await amqp.exchangeDelete({ exchange: x }).catch(() => {});
      await amqp.close();
      await ns.delete();
    },
  };
  return env;
}

/** Does the queue exist on the broker (passive declare)? Its message count when it does. */
export async function queueState(conn: Connection, queue: string): Promise<{ messages: number } | undefined> {
  try {
    const ok = await conn.queueDeclare({ queue, passive: true });
    return { messages: ok.messageCount };
  } catch (e) {
    if ((e as { code?: string }).code === 'NOT_FOUND') return undefined;
    throw e;
  }
}

/** A Deployment as the stand-in below sees it on the watch (plain JSON). */
interface DeploymentLike {
  metadata?: { name?: string; generation?: number };
  spec?: { replicas?: number };
  status?: { observedGeneration?: number; replicas?: number; updatedReplicas?: number; readyReplicas?: number; availableReplicas?: number };
}

/** The status kube-controller-manager and the kubelets would give a Deployment once every replica of its current template runs. */
export function rolledOutStatus(d: DeploymentLike): Required<NonNullable<DeploymentLike['status']>> {
  const n = d.spec?.replicas ?? 1;
  return { observedGeneration: d.metadata?.generation ?? 0, replicas: n, updatedReplicas: n, readyReplicas: n, availableReplicas: n };
}

export interface RolloutStandIn {
  /** Status patches written so far. */
  patched(): number;
  stop(): void;
}

/**
 * A stand-in for the Deployment controller, which the harness does not run: every Deployment in
 * `namespace` is marked rolled out (status.availableReplicas = replicas, at its generation) as
 * soon as it appears or its spec changes, through a watch and a `deployments/status` merge patch.
 * Resolves once the watch is open.
 */
export async function rollOutDeployments(kc: KubeConfig, namespace: string): Promise<RolloutStandIn> {
  const apps = kc.makeApiClient(AppsV1Api);
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  let patched = 0;
  let stopped = false;
  let current: AbortController | undefined;
  const onEvent = (phase: string, d: DeploymentLike) => {
    if ((phase !== 'ADDED' && phase !== 'MODIFIED') || d.metadata?.name === undefined) return;
    const want = rolledOutStatus(d);
    const has = d.status ?? {};
    if ((Object.keys(want) as Array<keyof typeof want>).every((k) => has[k] === want[k])) return;
    // A conflict or a vanished object needs nothing: the next event (or none) says what to do.
    apps.patchNamespacedDeploymentStatus({ namespace, name: d.metadata.name, body: { status: want } }, mergePatch).then(
      () => void patched++,
      () => {},
    );
  };
  // The server ends watches now and then: reopen (a fresh watch lists every object as ADDED again).
  const reopen = () => {
    if (!stopped) setTimeout(() => void open().catch(reopen), 100);
  };
  const open = async (): Promise<void> => {
    current = await new Watch(kc).watch(`/apis/apps/v1/namespaces/${namespace}/deployments`, {}, onEvent, reopen);
  };
  await open();
  return {
    patched: () => patched,
    stop() {
      stopped = true;
      current?.abort();
    },
  };
}
