/**
 * One topology client (one AMQP connection) per distinct broker URL, shared by the pipelines
 * that use it and closed when the last of them lets go. URLs are keys here only; they are never
 * logged (a URL carries a password).
 */
import type { Logger } from '../common/index.js';
import type { TopologyClient } from '../topology/index.js';

export type TopologyClientFactory = (options: { url: string; logger: Logger; connectTimeoutMs?: number }) => TopologyClient;

export interface BrokerPoolOptions {
  factory: TopologyClientFactory;
  logger: Logger;
  connectTimeoutMs?: number;
}

export class BrokerPool {
  private readonly o: BrokerPoolOptions;
  private readonly byUrl = new Map<string, { client: TopologyClient; users: Set<string> }>();
  private readonly urlOf = new Map<string, string>();

  constructor(options: BrokerPoolOptions) {
    this.o = options;
  }

  /** The client for `url`, recorded as used by pipeline `key` (which lets go of any other URL). */
  acquire(key: string, url: string): TopologyClient {
    const prev = this.urlOf.get(key);
    if (prev !== undefined && prev !== url) this.release(key);
    let entry = this.byUrl.get(url);
    if (entry === undefined) {
      entry = { client: this.o.factory({ url, logger: this.o.logger, connectTimeoutMs: this.o.connectTimeoutMs }), users: new Set() };
      this.byUrl.set(url, entry);
    }
    entry.users.add(key);
    this.urlOf.set(key, url);
    return entry.client;
  }

  /** Pipeline `key` no longer uses a broker (deleted, or its Secret changed). */
  release(key: string): void {
    const url = this.urlOf.get(key);
    if (url === undefined) return;
    this.urlOf.delete(key);
    const entry = this.byUrl.get(url);
    if (entry === undefined) return;
    entry.users.delete(key);
    if (entry.users.size === 0) {
      this.byUrl.delete(url);
      entry.client.close().catch((e: unknown) => this.o.logger.warn('closing a broker connection failed', { error: e }));
    }
  }

  /** Distinct broker connections open. */
  get size(): number {
    return this.byUrl.size;
  }

  async close(): Promise<void> {
    const entries = [...this.byUrl.values()];
    this.byUrl.clear();
    this.urlOf.clear();
    await Promise.all(entries.map((e) => e.client.close().catch(() => {})));
  }
}
