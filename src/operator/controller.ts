/**
 * The control loop of one leader term: informers on NotifyPipelines and on the Deployments and
 * ConfigMaps the operator owns feed keys into the work queue; a periodic resync enqueues every
 * known pipeline (drift repair, depth sampling); the queue drives `Reconciler.reconcile`.
 */
import { API_GROUP, API_VERSION, KIND, PLURAL } from '../api/index.js';
import type { Logger } from '../common/index.js';
import type { Clock, TimerHandle } from './clock.js';
import { Informer, keyOf } from './informer.js';
import type { KubeClient, KubeObject } from './kube.js';
import type { Reconciler } from './reconcile.js';
import { INSTANCE_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from './render.js';
import { WorkQueue } from './workqueue.js';

export interface ReconcileReport {
  key: string;
  durationMs: number;
  error?: unknown;
}

export interface ControllerOptions {
  kube: KubeClient;
  reconciler: Reconciler;
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

export class Controller {
  private readonly o: ControllerOptions;
  readonly queue: WorkQueue;
  private readonly pipelines: Informer[] = [];
  private readonly owned: Informer[] = [];
  private resyncTimer: TimerHandle | undefined;
  private stopped = false;

  constructor(options: ControllerOptions) {
    this.o = options;
    const { clock, logger } = options;
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
      this.pipelines.push(new Informer({ ...common, path: `${at(`/apis/${API_GROUP}/${API_VERSION}`)}/${PLURAL}`, onEvent: (_t, obj) => this.queue.add(keyOf(obj)) }));
      this.owned.push(new Informer({ ...common, path: `${at('/apis/apps/v1')}/deployments`, labelSelector: selector, onEvent: (_t, obj) => this.enqueueOwner(obj) }));
      this.owned.push(new Informer({ ...common, path: `${at('/api/v1')}/configmaps`, labelSelector: selector, onEvent: (_t, obj) => this.enqueueOwner(obj) }));
    }
  }

  start(): void {
    for (const i of [...this.pipelines, ...this.owned]) i.start();
    this.scheduleResync();
  }

  /** True once every informer has listed once. */
  get synced(): boolean {
    return [...this.pipelines, ...this.owned].every((i) => i.hasSynced);
  }

  async waitForSync(): Promise<void> {
    await Promise.all([...this.pipelines, ...this.owned].map((i) => i.waitForSync()));
  }

  /** Stop watching, finish the reconciles in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.resyncTimer?.cancel();
    await Promise.all([...this.pipelines, ...this.owned].map((i) => i.stop()));
    await this.queue.shutDown();
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
      const result = await this.o.reconciler.reconcile(key);
      this.o.onReconcile?.({ key, durationMs: this.o.clock.now() - started });
      return result;
    } catch (error) {
      this.o.onReconcile?.({ key, durationMs: this.o.clock.now() - started, error });
      this.o.logger.warn('reconcile failed', { key, retry: this.queue.retries(key) + 1, error });
      throw error;
    }
  }
}
