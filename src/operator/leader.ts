/**
 * Leader election on a coordination.k8s.io/v1 Lease, the client-go way: a candidate takes the
 * Lease when it is free or its holder has not renewed within the lease duration (judged by our
 * own clock from when we last saw the record change, so clock skew between nodes does not
 * matter); the leader renews every retry period and gives up when it could not renew within
 * the renew deadline. Releasing on shutdown empties the holder so the next replica takes over
 * at once. Verbs used: get, create, update.
 */
import type { Logger } from '../common/index.js';
import { sleep, type Clock } from './clock.js';
import { isConflict, isNotFound } from './errors.js';
import type { KubeClient } from './kube.js';

export interface LeaderElectorOptions {
  kube: KubeClient;
  namespace: string;
  name: string;
  /** This replica's identity ($POD_NAME or the hostname). */
  identity: string;
  clock: Clock;
  logger: Logger;
  /** How long a Lease is honoured after its last renewal. Default 15 s. */
  leaseDurationMs?: number;
  /** The leader steps down if it could not renew for this long. Default 10 s. */
  renewDeadlineMs?: number;
  /** Between attempts to acquire or renew. Default 2 s. */
  retryPeriodMs?: number;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: LeaseSpec;
}

/** metav1.MicroTime: RFC 3339 with microseconds. */
const microTime = (ms: number) => new Date(ms).toISOString().replace(/Z$/, '000Z');

export class LeaderElector {
  private readonly o: Required<LeaderElectorOptions>;
  private observed: { record: string; at: number } | undefined;
  private lease: Lease | undefined;
  private leading = false;

  constructor(options: LeaderElectorOptions) {
    // `??` rather than a spread of defaults: callers pass `undefined` for "use the default".
    this.o = {
      ...options,
      leaseDurationMs: options.leaseDurationMs ?? 15_000,
      renewDeadlineMs: options.renewDeadlineMs ?? 10_000,
      retryPeriodMs: options.retryPeriodMs ?? 2_000,
    };
  }

  get isLeader(): boolean {
    return this.leading;
  }

  private get path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.o.namespace}/leases/${this.o.name}`;
  }

  /** Resolves true once we lead, false if `signal` aborted first. */
  async acquire(signal: AbortSignal): Promise<boolean> {
    let logged = false;
    while (!signal.aborted) {
      if (await this.tryAcquireOrRenew()) {
        this.leading = true;
        this.o.logger.info('became leader', { lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity });
        return true;
      }
      if (!logged) {
        this.o.logger.info('waiting for leadership', { lease: `${this.o.namespace}/${this.o.name}`, holder: this.lease?.spec.holderIdentity });
        logged = true;
      }
      await sleep(this.o.clock, this.jittered(), signal);
    }
    return false;
  }

  /** Renew until renewal fails for the renew deadline (resolves 'lost') or `signal` aborts (resolves 'stopped'). */
  async hold(signal: AbortSignal): Promise<'lost' | 'stopped'> {
    let lastRenew = this.o.clock.now();
    while (!signal.aborted) {
      await sleep(this.o.clock, this.o.retryPeriodMs, signal);
      if (signal.aborted) break;
      if (await this.tryAcquireOrRenew()) {
        lastRenew = this.o.clock.now();
        continue;
      }
      // Someone else holds it now: stop at once. Otherwise keep trying until the deadline.
      const other = this.lease?.spec.holderIdentity;
      if ((other !== undefined && other !== '' && other !== this.o.identity) || this.o.clock.now() - lastRenew >= this.o.renewDeadlineMs) {
        this.leading = false;
        this.o.logger.error('lost leadership', { lease: `${this.o.namespace}/${this.o.name}`, holder: other });
        return 'lost';
      }
    }
    return 'stopped';
  }

  /** Give the Lease up (if we hold it) so another replica need not wait for it to expire. */
  async release(): Promise<void> {
    if (!this.leading || this.lease === undefined) return;
    this.leading = false;
    const now = this.o.clock.now();
    const body: Lease = {
      ...this.lease,
      spec: { ...this.lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(now), acquireTime: microTime(now) },
    };
    try {
      await this.o.kube.request({ method: 'PUT', path: this.path, body });
      this.o.logger.info('released leadership', { lease: `${this.o.namespace}/${this.o.name}` });
    } catch (e) {
      this.o.logger.warn('could not release the lease; the next leader waits for it to expire', { error: e });
    }
  }

  private jittered(): number {
    // client-go's JitterFactor 1.2: spread candidates so they do not retry in lockstep.
    return this.o.retryPeriodMs * (1 + Math.random() * 0.2);
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { kube, clock, identity } = this.o;
    const now = clock.now();
    const spec: LeaseSpec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.max(1, Math.ceil(this.o.leaseDurationMs / 1000)),
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions: 0,
    };
    let current: Lease;
    try {
      current = await kube.request<Lease>({ method: 'GET', path: this.path });
    } catch (e) {
      if (!isNotFound(e)) {
        this.o.logger.warn('cannot read the lease', { error: e });
        return false;
      }
      try {
        this.lease = await kube.request<Lease>({
          method: 'POST',
          path: `/apis/coordination.k8s.io/v1/namespaces/${this.o.namespace}/leases`,
          body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.o.name, namespace: this.o.namespace }, spec },
        });
        this.observe(this.lease, now);
        return true;
      } catch (e2) {
        if (!isConflict(e2)) this.o.logger.warn('cannot create the lease', { error: e2 });
        return false;
      }
    }
    this.lease = current;
    this.observe(current, now);
    const held = current.spec.holderIdentity ?? '';
    const mine = held === identity;
    const expired = this.observed!.at + this.leaseDurationOf(current) <= now;
    if (held !== '' && !mine && !expired) return false;
    const next: Lease = {
      ...current,
      spec: {
        ...spec,
        acquireTime: mine ? current.spec.acquireTime : spec.acquireTime,
        leaseTransitions: (current.spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
      },
    };
    try {
      this.lease = await kube.request<Lease>({ method: 'PUT', path: this.path, body: next });
      this.observe(this.lease, now);
      return true;
    } catch (e) {
      if (!isConflict(e)) this.o.logger.warn('cannot update the lease', { error: e });
      return false;
    }
  }

  private leaseDurationOf(l: Lease): number {
    // A released lease says 1 s; a held one says what its holder chose.
    return (l.spec.leaseDurationSeconds ?? Math.ceil(this.o.leaseDurationMs / 1000)) * 1000;
  }

  private observe(l: Lease, now: number): void {
    const record = JSON.stringify([l.spec.holderIdentity, l.spec.renewTime, l.spec.leaseTransitions]);
    if (this.observed?.record !== record) this.observed = { record, at: now };
  }
}
