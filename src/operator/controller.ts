/**
 * The control loop of one leader term: informers on NotifyPipelines and on the Deployments and
 * ConfigMaps the operator owns feed keys into the work queue; a periodic resync enqueues every
 * known pipeline (drift repair, depth sampling); the queue drives `Reconciler.reconcile`.
 */
import { API_GROUP, API_VERSION, KIND, PLURAL } from '../api/index.js';
import type { Logger } from '../common/index.js';
import type { Clock, TimerHandle } from './clock.js';
import { Informer, keyOf, type InformerEventType } from './informer.js';
import type { KubeClient, KubeObject } from './kube.js';
import { Reconciler, type ObservedWorkloads, type ReconcilerOptions } from './reconcile.js';
import { INSTANCE_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from './render.js';
import { sameJson } from './status.js';
import { WorkQueue } from './workqueue.js';

export interface ReconcileReport {
  key: string;
  durationMs: number;
  error?: unknown;
}

export interface ControllerOptions {
  kube: KubeClient;
  /** The reconciler is built per leader term, so its memory of what it applied starts afresh. */
  reconciler: Omit<ReconcilerOptions, 'observed'>;
  clock: Clock;
  logger: Logger;
  /** Namespaces to watch; empty = all. */
  namespaces: string[];
  resyncMs: number;
  concurrency: number;
  /** Informer retry backoff cap (ms). */
  maxWatchBackoffMs?: number;
  onReconcile?: (r: ReconcileReport) => void;
}

export class Controller implements ObservedWorkloads {
  private readonly o: ControllerOptions;
  readonly queue: WorkQueue;
  private readonly reconciler: Reconciler;
  private readonly pipelines: Informer[] = [];
  private readonly deployments: Informer[] = [];
  private readonly configMaps: Informer[] = [];
  private resyncTimer: TimerHandle | undefined;
  private stopped = false;

  constructor(options: ControllerOptions) {
    this.o = options;
    const { clock, logger } = options;
    this.reconciler = new Reconciler({ ...options.reconciler, observed: this });
    this.queue = new WorkQueue({
      clock,
      logger,
      concurrency: options.concurrency,
      handler: (key) => this.handle(key),
    });
    const scopes: Array<string | undefined> = options.namespaces.length === 0 ? [undefined] : options.namespaces;
    const selector = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
    for (const ns of scopes) {
      const at = (group: string) => (ns === undefined ? group : `${group}/namespaces/${ns}`);
      const common = { kube: options.kube, clock, logger, maxBackoffMs: options.maxWatchBackoffMs };
      this.pipelines.push(new Informer({ ...common, path: `${at(`/apis/${API_GROUP}/${API_VERSION}`)}/${PLURAL}`, onEvent: (t, obj, old) => this.onPipeline(t, obj, old) }));
      this.deployments.push(
        new Informer({
          ...common,
          path: `${at('/apis/apps/v1')}/deployments`,
          labelSelector: selector,
          statusFields: ['replicas', 'readyReplicas', 'availableReplicas', 'updatedReplicas', 'observedGeneration'],
          onEvent: (t, obj, old) => this.onOwned(t, obj, old),
        }),
      );
      this.configMaps.push(new Informer({ ...common, path: `${at('/api/v1')}/configmaps`, labelSelector: selector, onEvent: (t, obj, old) => this.onOwned(t, obj, old) }));
    }
  }

  start(): void {
    for (const i of this.informers()) i.start();
    this.scheduleResync();
  }

  /** True once every informer has listed once. */
  get synced(): boolean {
    return this.informers().every((i) => i.hasSynced);
  }

  async waitForSync(): Promise<void> {
    await Promise.all(this.informers().map((i) => i.waitForSync()));
  }

  /** Stop watching, finish the reconciles in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.resyncTimer?.cancel();
    await Promise.all(this.informers().map((i) => i.stop()));
    await this.queue.shutDown();
  }

  deployment(namespace: string, name: string): KubeObject | undefined {
    return find(this.deployments, `${namespace}/${name}`);
  }

  configMap(namespace: string, name: string): KubeObject | undefined {
    return find(this.configMaps, `${namespace}/${name}`);
  }

  private informers(): Informer[] {
    return [...this.pipelines, ...this.deployments, ...this.configMaps];
  }

  /**
   * Our own writes (finalizer, status) come back as watch events; like controller-runtime's
   * GenerationChangedPredicate, a change that leaves the spec alone does not need a reconcile
   * (the periodic resync still looks at everything).
   */
  private onPipeline(type: InformerEventType, obj: KubeObject, old: KubeObject | undefined): void {
    if (type === 'MODIFIED' && old !== undefined && old.metadata?.generation === obj.metadata?.generation && obj.metadata?.deletionTimestamp === undefined) return;
    this.queue.add(keyOf(obj));
  }

  /**
   * Owned objects wake their pipeline when deleted, when their spec or data changed (someone
   * edited them), or when a Deployment's availability changed. Their creation (by us) does not.
   */
  private onOwned(type: InformerEventType, obj: KubeObject, old: KubeObject | undefined): void {
    if (type === 'ADDED') return;
    if (type === 'MODIFIED' && old !== undefined) {
      // Deployments have a generation (bumped by spec changes only); ConfigMaps do not.
      const gen = obj.metadata?.generation;
      const sameSpec = gen !== undefined ? old.metadata?.generation === gen : old.metadata?.resourceVersion === obj.metadata?.resourceVersion;
      if (sameSpec && sameJson(old['status'], obj['status'])) return;
    }
    this.enqueueOwner(obj);
  }

  private scheduleResync(): void {
    if (this.stopped) return;
    this.resyncTimer = this.o.clock.setTimer(() => {
      for (const inf of this.pipelines) for (const obj of inf.objects()) this.queue.add(keyOf(obj));
      this.scheduleResync();
    }, this.o.resyncMs);
  }

  private enqueueOwner(obj: KubeObject): void {
    const ns = obj.metadata?.namespace;
    const owner = obj.metadata?.ownerReferences?.find((r) => r.kind === KIND && r.controller === true && r.apiVersion.startsWith(`${API_GROUP}/`));
    const name = owner?.name ?? obj.metadata?.labels?.[INSTANCE_LABEL];
    if (ns !== undefined && name !== undefined) this.queue.add(`${ns}/${name}`);
  }

  private async handle(key: string) {
    const started = this.o.clock.now();
    try {
      const result = await this.reconciler.reconcile(key);
      this.o.onReconcile?.({ key, durationMs: this.o.clock.now() - started });
      return result;
    } catch (error) {
      this.o.onReconcile?.({ key, durationMs: this.o.clock.now() - started, error });
      this.o.logger.warn('reconcile failed', { key, retry: this.queue.retries(key) + 1, error });
      throw error;
    }
  }
}

function find(informers: Informer[], key: string): KubeObject | undefined {
  for (const i of informers) {
    const o = i.get(key);
    if (o !== undefined) return o;
  }
  return undefined;
}
