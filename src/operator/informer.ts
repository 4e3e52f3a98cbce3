/**
 * List-then-watch of one collection, restarted with backoff on any failure (an apiserver
 * restart, a dropped stream) and relisted on 410 Gone. It keeps only keys and
 * resourceVersions (the reconcile reads the objects itself), so memory stays flat.
 */
import type { Logger } from '../common/index.js';
import { sleep, type Clock } from './clock.js';
import { isGone } from './errors.js';
import type { KubeClient, KubeList, KubeObject, WatchEvent } from './kube.js';

export type InformerEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface InformerOptions {
  kube: KubeClient;
  /** Collection path, e.g. /apis/apps/v1/namespaces/ns/deployments or /apis/apps/v1/deployments. */
  path: string;
  labelSelector?: string;
  clock: Clock;
  logger: Logger;
  /** `old` is the previous copy of the object (undefined for the first sight). */
  onEvent: (type: InformerEventType, obj: KubeObject, old: KubeObject | undefined) => void;
  /** Also keep these fields of `status` (e.g. a Deployment's replica counts). Default none. */
  statusFields?: string[];
  /** First retry after a failure. Default 100 ms (doubling). */
  minBackoffMs?: number;
  /** Longest retry delay. Default 10 s. */
  maxBackoffMs?: number;
  /** The server ends each watch after this long; we then resume from the last resourceVersion. Default 300. */
  watchTimeoutSeconds?: number;
  /** Page size of the list. Default 500. */
  pageSize?: number;
}

export class Informer {
  private readonly o: InformerOptions;
  private readonly known = new Map<string, KubeObject>();
  private readonly abort = new AbortController();
  private resourceVersion = '';
  private synced = false;
  private readonly syncWaiters: Array<() => void> = [];
  private loop: Promise<void> | undefined;

  constructor(options: InformerOptions) {
    this.o = options;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** True once the first list has been delivered. */
  get hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /** Objects seen, as `namespace/name` → a metadata-only copy. */
  objects(): IterableIterator<KubeObject> {
    return this.known.values();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { clock, logger } = this.o;
    let failures = 0;
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        if (this.resourceVersion === '') await this.relist(signal);
        failures = 0;
        const timeoutSeconds = this.o.watchTimeoutSeconds ?? 300;
        await this.o.kube.watch(
          this.o.path,
          { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds, labelSelector: this.o.labelSelector },
          (e) => this.handle(e),
          // The server ends the watch after timeoutSeconds; if it does not (a connection that
          // died silently), give up on it a little later and watch again.
          AbortSignal.any([signal, AbortSignal.timeout((timeoutSeconds + 30) * 1000)]),
        );
      } catch (e) {
        if (signal.aborted) break;
        if (isGone(e)) {
          // Our resourceVersion is too old (compacted): relist, at once.
          this.resourceVersion = '';
          continue;
        }
        const delay = Math.min((this.o.minBackoffMs ?? 100) * 2 ** failures, this.o.maxBackoffMs ?? 10_000);
        failures++;
        logger.warn('watch failed; retrying', { path: this.o.path, retryInMs: delay, error: e });
        await sleep(clock, delay, signal);
      }
    }
  }

  private async relist(signal: AbortSignal): Promise<void> {
    const seen = new Map<string, KubeObject>();
    let cont: string | undefined;
    let rv = '';
    do {
      const list = await this.o.kube.request<KubeList>({
        method: 'GET',
        path: this.o.path,
        query: { labelSelector: this.o.labelSelector, limit: this.o.pageSize ?? 500, continue: cont },
        signal,
      });
      for (const item of list.items) seen.set(keyOf(item), this.slim(item));
      cont = list.metadata?.continue || undefined;
      rv = list.metadata?.resourceVersion ?? '';
    } while (cont !== undefined);
    for (const [key, obj] of this.known) if (!seen.has(key)) this.deliver('DELETED', obj);
    for (const [key, obj] of seen) this.deliver(this.known.has(key) ? 'MODIFIED' : 'ADDED', obj);
    this.resourceVersion = rv;
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  private handle(e: WatchEvent): void {
    const rv = e.object.metadata?.resourceVersion;
    if (rv !== undefined && rv !== '') this.resourceVersion = rv;
    if (e.type === 'BOOKMARK') return;
    this.deliver(e.type as InformerEventType, this.slim(e.object));
  }

  /** The last copy seen of `namespace/name`. */
  get(key: string): KubeObject | undefined {
    return this.known.get(key);
  }

  private deliver(type: InformerEventType, obj: KubeObject): void {
    const key = keyOf(obj);
    const old = this.known.get(key);
    if (type === 'DELETED') this.known.delete(key);
    else this.known.set(key, obj);
    try {
      this.o.onEvent(type, obj, old);
    } catch (e) {
      this.o.logger.error('informer handler failed', { path: this.o.path, key, error: e });
    }
  }

  /** Keep what handlers need (identity, generation, labels, owners); drop spec and most status to save memory. */
  private slim(obj: KubeObject): KubeObject {
    const m = obj.metadata ?? {};
    const out: KubeObject = {
      metadata: {
        name: m.name,
        namespace: m.namespace,
        uid: m.uid,
        resourceVersion: m.resourceVersion,
        generation: m.generation,
        deletionTimestamp: m.deletionTimestamp,
        labels: m.labels,
        ownerReferences: m.ownerReferences,
      },
    };
    const fields = this.o.statusFields;
    const status = obj['status'] as Record<string, unknown> | undefined;
    if (fields !== undefined && status !== undefined) out['status'] = Object.fromEntries(fields.filter((f) => f in status).map((f) => [f, status[f]]));
    return out;
  }
}

export function keyOf(obj: KubeObject): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

