/**
 * A per-key work queue in the shape of client-go's: keys are deduplicated while they wait, one
 * key is never handled by two workers at once (a key added while it is being handled runs
 * again afterwards), failures back off per key (5 ms doubling to 1000 s) and the backoff is
 * forgotten only when the handler succeeds. Concurrency is bounded; the clock is injected.
 */
import type { Logger } from '../common/index.js';
import type { Clock, TimerHandle } from './clock.js';

export interface HandlerResult {
  /** Run the key again after this long (e.g. to poll a draining queue). */
  requeueAfterMs?: number;
}

export interface WorkQueueOptions {
  /** Handles one key; resolves (success) or throws (backoff). Never both. */
  handler: (key: string) => Promise<HandlerResult>;
  clock: Clock;
  logger: Logger;
  /** Keys handled at the same time. Default 4. */
  concurrency?: number;
  /** First retry delay after a failure. Default 5 ms. */
  baseDelayMs?: number;
  /** Longest retry delay. Default 1000 s. */
  maxDelayMs?: number;
  /** Told about every failure, e.g. for metrics. */
  onError?: (key: string, error: unknown, retryInMs: number) => void;
}

export class WorkQueue {
  private readonly handler: WorkQueueOptions['handler'];
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly concurrency: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly onError: WorkQueueOptions['onError'];

  /** Keys ready to run, in order. */
  private readonly queue: string[] = [];
  /** Keys waiting to run (in `queue`, or to be re-queued once their current run ends). */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  /** Delayed adds: the earliest time each key is due, and its timer. */
  private readonly waiting = new Map<string, { at: number; timer: TimerHandle }>();
  private readonly failures = new Map<string, number>();
  private readonly idleWaiters: Array<() => void> = [];
  private shuttingDown = false;

  constructor(options: WorkQueueOptions) {
    this.handler = options.handler;
    this.clock = options.clock;
    this.logger = options.logger;
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    this.baseDelayMs = options.baseDelayMs ?? 5;
    this.maxDelayMs = options.maxDelayMs ?? 1_000_000;
    this.onError = options.onError;
  }

  /** Queue `key` now. A key already waiting is not added twice. */
  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return; // re-queued when its current run ends
    this.queue.push(key);
    this.pump();
  }

  /** Queue `key` after `ms`; of several delayed adds of one key the earliest wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = this.clock.now() + ms;
    const prev = this.waiting.get(key);
    if (prev !== undefined) {
      if (prev.at <= at) return;
      prev.timer.cancel();
    }
    const timer = this.clock.setTimer(() => {
      this.waiting.delete(key);
      this.add(key);
    }, ms);
    this.waiting.set(key, { at, timer });
  }

  /** Queue `key` after its backoff, and lengthen the backoff. */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = this.backoffMs(n);
    this.addAfter(key, delay);
    return delay;
  }

  /** Backoff delay of the (n+1)-th consecutive failure. */
  backoffMs(n: number): number {
    // 2^n overflows to Infinity for large n; the cap keeps it finite.
    return Math.min(this.baseDelayMs * 2 ** n, this.maxDelayMs);
  }

  /** Clear `key`'s backoff (after a success). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Consecutive failures recorded for `key`. */
  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Keys ready to run (not counting running or delayed ones). */
  get length(): number {
    return this.queue.length;
  }

  get inFlight(): number {
    return this.processing.size;
  }

  /** Resolves when no key runs, none is ready and none is delayed. */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stop taking keys, cancel delayed ones, and wait for the keys being handled to finish
   * (keys not started yet are dropped: the next leader reads the world afresh).
   */
  async shutDown(): Promise<void> {
    this.shuttingDown = true;
    for (const { timer } of this.waiting.values()) timer.cancel();
    this.waiting.clear();
    this.queue.length = 0;
    this.dirty.clear();
    await this.whenIdle();
  }

  private isIdle(): boolean {
    return this.processing.size === 0 && this.queue.length === 0 && this.waiting.size === 0;
  }

  private pump(): void {
    while (this.processing.size < this.concurrency && this.queue.length > 0 && !this.shuttingDown) {
      const key = this.queue.shift()!;
      this.dirty.delete(key);
      this.processing.add(key);
      void this.run(key);
    }
  }

  private async run(key: string): Promise<void> {
    try {
      const result = await this.handler(key);
      this.forget(key);
      if (result.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    } catch (error) {
      const retryInMs = this.shuttingDown ? 0 : this.addRateLimited(key);
      this.logger.debug('reconcile failed; retrying', { key, retryInMs, error });
      this.onError?.(key, error, retryInMs);
    } finally {
      this.processing.delete(key);
      if (this.dirty.has(key) && !this.shuttingDown) this.queue.push(key);
      this.pump();
      if (this.isIdle()) for (const w of this.idleWaiters.splice(0)) w();
    }
  }
}
