/**
 * Kubernetes Events (events.k8s.io/v1) for what people must notice: a bad Secret, an
 * unreachable broker, a conflicting queue. A repeat of the same event on the same object is
 * counted in the first event's `series` (patched at most every `seriesPatchIntervalMs`) rather
 * than creating a new object each retry. Recording never fails a reconcile.
 */
import { randomBytes } from 'node:crypto';
import { redact, type Logger } from '../common/index.js';
import type { Clock } from './clock.js';
import type { KubeClient } from './kube.js';

export interface EventTarget {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid?: string;
}

export interface EventRecorderOptions {
  kube: KubeClient;
  clock: Clock;
  logger: Logger;
  /** reportingController. Default `ladder.dev/operator`. */
  controller?: string;
  /** reportingInstance: this replica's identity. */
  instance: string;
  /** A repeat within this window joins the existing series. Default 10 min. */
  seriesWindowMs?: number;
  /** Least time between two series patches of one event. Default 5 s. */
  seriesPatchIntervalMs?: number;
}

interface Seen {
  namespace: string;
  name: string;
  count: number;
  lastSeen: number;
  lastPatched: number;
}

const microTime = (ms: number) => new Date(ms).toISOString().replace(/Z$/, '000Z');

export class EventRecorder {
  private readonly o: EventRecorderOptions;
  private readonly seen = new Map<string, Seen>();

  constructor(options: EventRecorderOptions) {
    this.o = options;
  }

  async record(target: EventTarget, type: 'Normal' | 'Warning', reason: string, action: string, note: string): Promise<void> {
    const { kube, clock, logger } = this.o;
    const now = clock.now();
    const window = this.o.seriesWindowMs ?? 600_000;
    for (const [k, s] of this.seen) if (now - s.lastSeen > window) this.seen.delete(k);
    const safeNote = redact(note).slice(0, 1000);
    const dedupeKey = JSON.stringify([target.namespace, target.name, target.uid, type, reason, action, safeNote]);
    const prev = this.seen.get(dedupeKey);
    try {
      if (prev !== undefined) {
        prev.count++;
        prev.lastSeen = now;
        if (now - prev.lastPatched < (this.o.seriesPatchIntervalMs ?? 5_000)) return;
        prev.lastPatched = now;
        await kube.request({
          method: 'PATCH',
          path: `/apis/events.k8s.io/v1/namespaces/${prev.namespace}/events/${prev.name}`,
          contentType: 'application/merge-patch+json',
          body: { series: { count: prev.count, lastObservedTime: microTime(now) } },
        });
        return;
      }
      const name = `${target.name}.${now.toString(16)}${randomBytes(2).toString('hex')}`;
      this.seen.set(dedupeKey, { namespace: target.namespace, name, count: 1, lastSeen: now, lastPatched: now });
      await kube.request({
        method: 'POST',
        path: `/apis/events.k8s.io/v1/namespaces/${target.namespace}/events`,
        body: {
          apiVersion: 'events.k8s.io/v1',
          kind: 'Event',
          metadata: { name, namespace: target.namespace },
          eventTime: microTime(now),
          reportingController: this.o.controller ?? 'ladder.dev/operator',
          reportingInstance: this.o.instance.slice(0, 128),
          action,
          reason,
          type,
          note: safeNote,
          regarding: { apiVersion: target.apiVersion, kind: target.kind, namespace: target.namespace, name: target.name, ...(target.uid ? { uid: target.uid } : {}) },
        },
      });
    } catch (e) {
      logger.warn('could not record an event', { reason, error: e });
    }
  }
}
