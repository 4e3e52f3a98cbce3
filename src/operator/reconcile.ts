/**
 * The NotifyPipeline reconcile: level-triggered and idempotent. Given `namespace/name` it reads
 * the pipeline and converges the world to it: finalizer, RabbitMQ topology (and old rungs
 * drained then deleted), worker ConfigMap and Deployment (server-side apply), status (written
 * once, only when it changed). It resolves to `{ requeueAfterMs? }` or throws, never both.
 */
import { createHash } from 'node:crypto';
import { API_GROUP, API_VERSION, KIND, parsePipeline, PLURAL, SpecError, type NotifyPipeline, type NotifyPipelineStatus } from '../api/index.js';
import type { Logger } from '../common/index.js';
import { drainingRungs, ladderSummary, planTopology, type TopologyClient, type TopologyPlan } from '../topology/index.js';
import type { BrokerPool } from './brokers.js';
import { readyCondition, type Observation, type Problem } from './checks.js';
import type { Clock } from './clock.js';
import { isNotFound, KubeApiError, ReconcileError, SecretKeyMissingError, SecretNotFoundError } from './errors.js';
import type { EventRecorder, EventTarget } from './events.js';
import type { KubeClient, KubeObject } from './kube.js';
import { Reason } from './reasons.js';
import { configHash, renderConfigMap, renderDeployment, workerObjectName, type RenderOptions } from './render.js';
import { buildStatus, sameJson, type Depths, type QueueNames } from './status.js';
import type { HandlerResult } from './workqueue.js';

export const FINALIZER = 'ladder.dev/finalizer';
export const FIELD_MANAGER = 'ladder-operator';

export interface ReconcilerOptions {
  kube: KubeClient;
  brokers: BrokerPool;
  events: EventRecorder;
  clock: Clock;
  logger: Logger;
  render: RenderOptions;
  /** How soon to look again at draining rungs and at a deletion waiting for queues to empty. Default 5 s. */
  pollMs?: number;
  /** The informers' view of the owned objects; lets a reconcile skip applying unchanged workers. */
  observed?: ObservedWorkloads;
}

/** Last seen copies of owned objects (metadata; for Deployments also replica counts in status). */
export interface ObservedWorkloads {
  deployment(namespace: string, name: string): KubeObject | undefined;
  configMap(namespace: string, name: string): KubeObject | undefined;
}

/** What this reconciler last applied for a pipeline, to skip identical server-side applies. */
interface AppliedWorkers {
  hash: string;
  deploymentGeneration: number | undefined;
  configMapVersion: string | undefined;
}

type PipelineObject = KubeObject & { spec?: Record<string, unknown>; status?: NotifyPipelineStatus };
export type DeploymentObject = KubeObject & {
  spec?: { replicas?: number };
  status?: { replicas?: number; updatedReplicas?: number; availableReplicas?: number; readyReplicas?: number; observedGeneration?: number };
};

export const pipelinePath = (ns: string, name?: string) => `/apis/${API_GROUP}/${API_VERSION}/namespaces/${ns}/${PLURAL}${name === undefined ? '' : `/${name}`}`;

export class Reconciler {
  private readonly o: ReconcilerOptions;
  private readonly applied = new Map<string, AppliedWorkers>();

  constructor(options: ReconcilerOptions) {
    this.o = options;
  }

  async reconcile(key: string): Promise<HandlerResult> {
    const [namespace, name] = splitKey(key);
    const { kube, brokers } = this.o;
    let raw: PipelineObject;
    try {
      raw = await kube.request<PipelineObject>({ method: 'GET', path: pipelinePath(namespace, name) });
    } catch (e) {
      if (isNotFound(e)) {
        brokers.release(key); // gone: its broker connection may close
        this.applied.delete(key);
        return {};
      }
      throw e;
    }
    const target: EventTarget = { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: KIND, namespace, name, uid: raw.metadata?.uid };

    let pipeline: NotifyPipeline | undefined;
    let specProblem: Problem | undefined;
    try {
      pipeline = parsePipeline(raw, key);
      if (pipeline.spec.rabbitmq.secretRef === undefined) {
        specProblem = { reason: Reason.InvalidSpec, message: 'spec.rabbitmq.secretRef: is required when the operator runs the pipeline' };
      }
    } catch (e) {
      if (!(e instanceof SpecError)) throw e;
      specProblem = { reason: Reason.InvalidSpec, message: e.issues.map((i) => `${i.path}: ${i.message}`).join('; ') };
    }

    if (raw.metadata?.deletionTimestamp !== undefined) return this.finalize(key, raw, pipeline, specProblem, target);

    if (specProblem !== undefined || pipeline === undefined) {
      // Retrying cannot fix a spec; the next edit (a new generation) wakes us again.
      const problem = specProblem!;
      await this.writeStatus(raw, { observation: { spec: problem } });
      await this.o.events.record(target, 'Warning', problem.reason, 'Validate', problem.message);
      return {};
    }

    const plan = planTopology({ namespace, name }, pipeline.spec);
    const observation: Observation = {};
    let queues: QueueNames | undefined;
    let depths: Depths | undefined;
    let workers: { ready: number; desired: number } | undefined;
    let failure: Error | undefined;

    // 1. the finalizer and the broker URI (independent requests, made together)
    const ref = pipeline.spec.rabbitmq.secretRef!;
    let url: string | undefined;
    const [, secret] = await Promise.all([this.ensureFinalizer(raw), this.readSecret(namespace, ref.name, ref.key).then((v) => ({ v }), (e: unknown) => ({ e }))]);
    if ('v' in secret) url = secret.v;
    else {
      observation.secret = secretProblem(secret.e, namespace, ref.name, ref.key);
      failure = secret.e as Error;
    }

    // 2. the topology
    const client = url !== undefined ? brokers.acquire(key, url) : undefined;
    if (client !== undefined) {
      try {
        await client.apply(plan);
      } catch (e) {
        observation.topology = { ok: false, problem: topologyProblem(e, url!) };
        failure = e as Error;
      }
    }
    const topologyApplied = client !== undefined && observation.topology === undefined;

    // 3. the workers, once there is a topology for them to consume
    let settled = false;
    if (topologyApplied) {
      try {
        const dep = await this.applyWorkers(key, pipeline, raw);
        const desired = pipeline.spec.workers.replicas;
        observation.workers = { desired, available: dep.status?.availableReplicas ?? 0, ready: dep.status?.readyReplicas ?? 0 };
        workers = { ready: dep.status?.readyReplicas ?? 0, desired };
        settled = rolledOut(dep, desired);
      } catch (e) {
        observation.workers = { reason: Reason.WorkersFailed, message: `applying the worker Deployment failed: ${(e as Error).message}` };
        failure = e as Error;
      }
    } else {
      // Not applied this time (no topology), but the workers that run still count: report them
      // as the informer last saw them rather than flapping WorkersAvailable to Unknown.
      const seen = this.o.observed?.deployment(namespace, workerObjectName(name)) as DeploymentObject | undefined;
      if (seen !== undefined) {
        const desired = pipeline.spec.workers.replicas;
        observation.workers = { desired, available: seen.status?.availableReplicas ?? 0, ready: seen.status?.readyReplicas ?? 0 };
        workers = { ready: seen.status?.readyReplicas ?? 0, desired };
      }
    }

    // 4. old rungs and depths
    if (topologyApplied) {
      try {
        const draining = await this.drain(client!, plan, raw.status, target, settled);
        observation.topology = { ok: true, queues: plan.queues.length, draining };
        queues = { work: plan.work, rungs: plan.queues.filter((q) => q.role === 'rung').map((q) => q.name), parked: plan.parked, draining };
        depths = await sampleDepths(client!, queues);
      } catch (e) {
        observation.topology = { ok: false, problem: topologyProblem(e, url!) };
        failure = e as Error;
      }
    }

    await this.writeStatus(raw, { observation, ladder: ladderSummary(pipeline.spec), queues, depths, workers });

    const problem = observation.secret ?? (observation.topology?.ok === false ? observation.topology.problem : undefined);
    if (problem !== undefined) {
      await this.o.events.record(target, 'Warning', problem.reason, 'Reconcile', problem.message);
      throw new ReconcileError(key, problem.reason, problem.message, { cause: failure });
    }
    if (failure !== undefined) throw failure;
    return queues !== undefined && queues.draining.length > 0 ? { requeueAfterMs: this.o.pollMs ?? 5_000 } : {};
  }

  /**
   * Old rungs (known from status, no longer planned) are deleted once empty and once no worker
   * of the old ladder runs any more (`settled`): an old worker would otherwise declare the rung
   * again on its next retry and leave a queue nobody tracks. Until then they keep draining.
   */
  private async drain(client: TopologyClient, plan: TopologyPlan, status: NotifyPipelineStatus | undefined, target: EventTarget, settled: boolean): Promise<string[]> {
    const known = [...(status?.queues?.rungs ?? []), ...(status?.queues?.draining ?? [])];
    const candidates = drainingRungs(plan, known);
    if (!settled) return candidates;
    const still: string[] = [];
    for (const q of candidates) {
      const r = await client.deleteIfEmpty(q);
      if (r === 'not-empty') still.push(q);
      else if (r === 'deleted') {
        this.o.logger.info('deleted drained rung', { pipeline: `${target.namespace}/${target.name}`, queue: q });
        await this.o.events.record(target, 'Normal', Reason.RungDrained, 'DeleteQueue', `old rung ${q} is empty and was deleted`);
      }
    }
    return still;
  }

  private async finalize(key: string, raw: PipelineObject, pipeline: NotifyPipeline | undefined, specProblem: Problem | undefined, target: EventTarget): Promise<HandlerResult> {
    const { brokers, logger } = this.o;
    if (!(raw.metadata?.finalizers ?? []).includes(FINALIZER)) {
      brokers.release(key);
      return {};
    }
    if (pipeline === undefined || specProblem !== undefined || pipeline.spec.deletionPolicy === 'Retain') {
      // Retain (or a spec we cannot act on): the queues and their messages stay on the broker.
      await this.removeFinalizer(raw);
      brokers.release(key);
      this.applied.delete(key);
      logger.info('pipeline deleted; queues retained', { pipeline: key });
      return {};
    }
    const [namespace, name] = splitKey(key);
    const plan = planTopology({ namespace, name }, pipeline.spec);
    const names = [...new Set([...plan.queues.map((q) => q.name), ...(raw.status?.queues?.rungs ?? []), ...(raw.status?.queues?.draining ?? [])])];
    const ref = pipeline.spec.rabbitmq.secretRef!;
    let url: string;
    try {
      url = await this.readSecret(namespace, ref.name, ref.key);
    } catch (e) {
      return this.blockDeletion(key, raw, target, secretProblem(e, namespace, ref.name, ref.key), e);
    }
    const client = brokers.acquire(key, url);
    try {
      const states = await client.inspect(names);
      const waiting = states.filter((s) => s.exists && s.messages > 0);
      if (waiting.length === 0) {
        const results = await Promise.all(states.filter((s) => s.exists).map(async (s) => [s.name, await client.deleteIfEmpty(s.name)] as const));
        const refused = results.filter(([, r]) => r === 'not-empty').map(([q]) => q);
        if (refused.length === 0) {
          await this.o.events.record(target, 'Normal', Reason.QueuesDeleted, 'DeleteQueues', `deleted ${results.filter(([, r]) => r === 'deleted').length} empty queues (deletionPolicy Delete)`);
          await this.removeFinalizer(raw);
          brokers.release(key);
          this.applied.delete(key);
          logger.info('pipeline deleted; queues deleted', { pipeline: key });
          return {};
        }
        waiting.push(...states.filter((s) => refused.includes(s.name)));
      }
      const total = waiting.reduce((n, s) => n + s.messages, 0);
      const detail = waiting.map((s) => `${s.name} (${s.messages})`).join(', ');
      const problem = { reason: Reason.QueuesNotEmpty, message: `deletion waits: ${total} message${total === 1 ? '' : 's'} still waiting in ${waiting.length} queue${waiting.length === 1 ? '' : 's'}: ${detail}` };
      await this.writeStatus(raw, { observation: { deletion: problem }, onlyReady: true });
      await this.o.events.record(target, 'Normal', problem.reason, 'Delete', problem.message);
      return { requeueAfterMs: this.o.pollMs ?? 5_000 };
    } catch (e) {
      return this.blockDeletion(key, raw, target, topologyProblem(e, url), e);
    }
  }

  private async blockDeletion(key: string, raw: PipelineObject, target: EventTarget, problem: Problem, cause: unknown): Promise<never> {
    await this.writeStatus(raw, { observation: { deletion: problem }, onlyReady: true });
    await this.o.events.record(target, 'Warning', problem.reason, 'Delete', problem.message);
    throw new ReconcileError(key, problem.reason, problem.message, { cause });
  }

  private async readSecret(namespace: string, name: string, key: string): Promise<string> {
    let secret: { data?: Record<string, string> };
    try {
      // GET only: the operator may not list or watch Secrets.
      secret = await this.o.kube.request({ method: 'GET', path: `/api/v1/namespaces/${namespace}/secrets/${name}` });
    } catch (e) {
      if (e instanceof KubeApiError && (e.status === 404 || e.status === 403)) throw new SecretNotFoundError(namespace, name, { cause: e });
      throw e;
    }
    const b64 = secret.data?.[key];
    const value = b64 === undefined ? '' : Buffer.from(b64, 'base64').toString('utf8').trim();
    if (value === '') throw new SecretKeyMissingError(namespace, name, key);
    return value;
  }

  private async ensureFinalizer(raw: PipelineObject): Promise<void> {
    const finalizers = raw.metadata?.finalizers ?? [];
    if (finalizers.includes(FINALIZER)) return;
    const updated = await this.o.kube.request<PipelineObject>({
      method: 'PATCH',
      path: pipelinePath(raw.metadata!.namespace!, raw.metadata!.name!),
      contentType: 'application/merge-patch+json',
      // resourceVersion makes it an optimistic lock: a concurrent change gives 409 and a retry.
      body: { metadata: { finalizers: [...finalizers, FINALIZER], resourceVersion: raw.metadata!.resourceVersion } },
    });
    raw.metadata = updated.metadata;
  }

  private async removeFinalizer(raw: PipelineObject): Promise<void> {
    const finalizers = raw.metadata?.finalizers ?? [];
    await this.o.kube.request({
      method: 'PATCH',
      path: pipelinePath(raw.metadata!.namespace!, raw.metadata!.name!),
      contentType: 'application/merge-patch+json',
      body: { metadata: { finalizers: finalizers.filter((f) => f !== FINALIZER), resourceVersion: raw.metadata!.resourceVersion } },
    });
  }

  /**
   * Server-side apply the ConfigMap and Deployment, unless exactly these were applied by this
   * reconciler and the informers show nobody changed them since (then the informer's copy of
   * the Deployment status is current enough).
   */
  private async applyWorkers(key: string, pipeline: NotifyPipeline, raw: PipelineObject): Promise<DeploymentObject> {
    const owner = { name: raw.metadata!.name!, namespace: raw.metadata!.namespace!, uid: raw.metadata!.uid! };
    const cm = renderConfigMap(pipeline, owner);
    const dep = renderDeployment(pipeline, owner, this.o.render, configHash(cm));
    const name = workerObjectName(owner.name);
    const hash = createHash('sha256').update(JSON.stringify([cm, dep])).digest('hex');
    const memo = this.applied.get(key);
    const seenDep = this.o.observed?.deployment(owner.namespace, name) as DeploymentObject | undefined;
    const seenCm = this.o.observed?.configMap(owner.namespace, name);
    if (
      memo !== undefined &&
      memo.hash === hash &&
      seenDep !== undefined &&
      seenCm !== undefined &&
      seenDep.metadata?.generation === memo.deploymentGeneration &&
      seenCm.metadata?.resourceVersion === memo.configMapVersion
    ) {
      return seenDep;
    }
    // Together: a pod waits for its ConfigMap volume, so neither order matters to the cluster.
    const [appliedCm, appliedDep] = await Promise.all([
      this.apply(`/api/v1/namespaces/${owner.namespace}/configmaps/${name}`, cm),
      this.apply<DeploymentObject>(`/apis/apps/v1/namespaces/${owner.namespace}/deployments/${name}`, dep),
    ]);
    this.applied.set(key, { hash, deploymentGeneration: appliedDep.metadata?.generation, configMapVersion: appliedCm.metadata?.resourceVersion });
    return appliedDep;
  }

  /** Server-side apply as `ladder-operator`, forcing ownership of the fields we set. */
  private apply<T = KubeObject>(path: string, body: unknown): Promise<T> {
    return this.o.kube.request<T>({ method: 'PATCH', path, query: { fieldManager: FIELD_MANAGER, force: true }, contentType: 'application/apply-patch+yaml', body });
  }

  private async writeStatus(
    raw: PipelineObject,
    input: { observation: Observation; onlyReady?: boolean; ladder?: string; queues?: QueueNames; depths?: Depths; workers?: { ready: number; desired: number } },
  ): Promise<void> {
    const status = buildStatus({
      previous: raw.status,
      generation: raw.metadata?.generation,
      now: new Date(this.o.clock.now()),
      observation: input.observation,
      conditions: input.onlyReady ? [readyCondition(input.observation)] : undefined,
      ladder: input.ladder,
      queues: input.queues,
      depths: input.depths,
      workers: input.workers,
    });
    if (sameJson(status, raw.status ?? {})) return;
    const { namespace, name } = raw.metadata as { namespace: string; name: string };
    await this.apply(`${pipelinePath(namespace, name)}/status`, { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: KIND, metadata: { name, namespace }, status });
  }
}

/**
 * Every worker pod runs the current template: the Deployment controller has seen this
 * generation and no old pod is left (replicas counts old and new pods together).
 */
export function rolledOut(dep: DeploymentObject, desired: number): boolean {
  if (desired === 0) return true;
  const s = dep.status ?? {};
  return (s.observedGeneration ?? 0) >= (dep.metadata?.generation ?? 0) && s.updatedReplicas === desired && s.replicas === desired;
}

export function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

async function sampleDepths(client: TopologyClient, q: QueueNames): Promise<Depths> {
  const states = await client.inspect([q.work, ...q.rungs, ...q.draining, q.parked]);
  const count = (name: string) => states.find((s) => s.name === name)?.messages ?? 0;
  return {
    work: count(q.work),
    delayed: [...q.rungs, ...q.draining].reduce((n, r) => n + count(r), 0),
    parked: count(q.parked),
  };
}

function secretProblem(e: unknown, namespace: string, name: string, key: string): Problem {
  if (e instanceof SecretNotFoundError) return { reason: Reason.SecretNotFound, message: `Secret ${namespace}/${name} (spec.rabbitmq.secretRef) was not found` };
  if (e instanceof SecretKeyMissingError) return { reason: Reason.SecretKeyMissing, message: `Secret ${namespace}/${name} has no key "${key}" (spec.rabbitmq.secretRef.key)` };
  return { reason: Reason.SecretNotFound, message: `Secret ${namespace}/${name} could not be read: ${(e as Error).message}` };
}

/** Where the broker is, for messages: host, port and vhost only (never user or password). */
export function brokerAddress(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || (u.protocol === 'amqps:' ? '5671' : '5672')}${u.pathname.length > 1 ? u.pathname : ''}`;
  } catch {
    return 'an unparsable URI';
  }
}

/** Remove every trace of the URI and its credentials from a text meant for status or events. */
export function scrub(text: string, url: string): string {
  let out = text.split(url).join(brokerAddress(url));
  try {
    const u = new URL(url);
    for (const secret of [u.password, decodeURIComponent(u.password)]) if (secret.length > 0) out = out.split(secret).join('***');
  } catch {
    // not a URL: nothing more to hide than the whole text already replaced
  }
  return out.replace(/amqps?:\/\/\S+/gi, (m) => brokerAddress(m));
}

function topologyProblem(e: unknown, url: string): Problem {
  const code = (e as { code?: unknown }).code;
  const where = brokerAddress(url);
  const fields = e as { queue?: string; wanted?: unknown; detail?: string; exchange?: string };
  switch (code) {
    case 'LADDER_TOPOLOGY_CONFLICT':
      return {
        reason: Reason.TopologyConflict,
        message: scrub(`queue ${fields.queue} already exists on ${where} with different arguments; Ladder never deletes or redeclares it (wanted ${JSON.stringify(fields.wanted)}; broker said: ${fields.detail})`, url),
      };
    case 'LADDER_EXCHANGE_MISSING':
      return { reason: Reason.ExchangeNotFound, message: scrub(`exchange ${fields.exchange} does not exist on ${where} and spec.source.declare is false`, url) };
    case 'LADDER_BROKER_UNAVAILABLE':
      return { reason: Reason.BrokerUnavailable, message: scrub(`cannot reach RabbitMQ at ${where}: ${fields.detail ?? (e as Error).message}`, url) };
    default:
      return { reason: Reason.TopologyFailed, message: scrub(`applying the topology on ${where} failed: ${(e as Error).message}`, url) };
  }
}
