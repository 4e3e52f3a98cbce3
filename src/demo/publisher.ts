/**
 * Publish test notifications the way a producer does: to the source exchange with the routing
 * key, persistent, `mandatory`, publisher-confirmed. A returned (unroutable) message counts as a
 * failure, because a confirm alone does not mean it reached a queue.
 */
import { Connection } from 'rabbitmq-client';
import { redact } from '../common/index.js';
import type { Notification } from './notifications.js';

export type PublishFailure = 'broker-unavailable' | 'exchange-missing' | 'publish-failed';

export class PublishError extends Error {
  readonly code = 'LADDER_PUBLISH_FAILED';
  constructor(
    readonly reason: PublishFailure,
    readonly exchange: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(redact(message), options);
    this.name = 'PublishError';
  }
}

export interface PublishOptions {
  amqpUrl: string;
  exchange: string;
  routingKey: string;
  messages: Iterable<Notification>;
  /** Messages per second; default unlimited (bounded only by `window`). */
  ratePerSec?: number;
  /** Most unconfirmed publishes at once. Default 256. */
  window?: number;
  /** Default 5000. */
  connectTimeoutMs?: number;
  /** Clock and timer, injectable for tests. */
  now?: () => number;
}

export interface PublishResult {
  /** Confirmed by the broker and routed to at least one queue. */
  confirmed: number;
  /** Confirmed but returned as unroutable (no queue bound with this key). */
  returned: number;
  elapsedMs: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function publishNotifications(options: PublishOptions): Promise<PublishResult> {
  const now = options.now ?? Date.now;
  const window = options.window ?? 256;
  const rabbit = new Connection({ url: options.amqpUrl, connectionTimeout: options.connectTimeoutMs ?? 5000, retryLow: 200, retryHigh: 1000 });
  let lastError: unknown;
  rabbit.on('error', (e) => {
    lastError = e;
  });
  try {
    try {
      // disableAutoClose: the finally below closes once; a second close() never settles.
      await rabbit.onConnect(options.connectTimeoutMs ?? 5000, true);
    } catch (e) {
      throw new PublishError('broker-unavailable', options.exchange, `cannot reach RabbitMQ at ${options.amqpUrl}: ${(lastError as Error | undefined)?.message ?? (e as Error).message}`, { cause: lastError ?? e });
    }
    if (options.exchange !== '') {
      try {
        await rabbit.exchangeDeclare({ exchange: options.exchange, passive: true });
      } catch (e) {
        throw new PublishError('exchange-missing', options.exchange, `exchange "${options.exchange}" does not exist (producers or \`ladder run\` declare it)`, { cause: e });
      }
    }
    const returnedIds = new Set<string>();
    const pub = rabbit.createPublisher({ confirm: true, maxAttempts: 3 });
    // The broker sends basic.return before the confirm of the same message; the client emits it
    // on setImmediate, so one setImmediate after the confirm the return (if any) is recorded.
    pub.on('basic.return', (m) => {
      if (typeof m.messageId === 'string') returnedIds.add(m.messageId);
    });
    const start = now();
    let confirmed = 0;
    let returned = 0;
    let failure: unknown;
    const pending = new Set<Promise<void>>();
    let i = 0;
    try {
      for (const n of options.messages) {
        if (failure !== undefined) break;
        if (options.ratePerSec !== undefined && options.ratePerSec > 0) {
          const due = start + (i * 1000) / options.ratePerSec;
          const wait = due - now();
          if (wait > 0) await sleep(wait);
        }
        i++;
        const p: Promise<void> = pub
          .send(
            {
              exchange: options.exchange,
              routingKey: options.routingKey,
              mandatory: true,
              durable: true,
              messageId: n.messageId,
              contentType: n.contentType,
              timestamp: Math.floor(now() / 1000),
              headers: n.headers,
            },
            Buffer.from(n.body),
          )
          .then(() => new Promise<void>((r) => setImmediate(r)))
          .then(
            () => {
              if (returnedIds.delete(n.messageId)) returned++;
              else confirmed++;
            },
            (e: unknown) => {
              failure ??= e;
            },
          )
          .finally(() => pending.delete(p));
        pending.add(p);
        if (pending.size >= window) await Promise.race(pending);
      }
      await Promise.all(pending);
    } finally {
      await pub.close().catch(() => {});
    }
    if (failure !== undefined) {
      throw new PublishError('publish-failed', options.exchange, `publishing to "${options.exchange}" failed after ${confirmed} confirmed: ${(failure as Error).message}`, { cause: failure });
    }
    return { confirmed, returned, elapsedMs: now() - start };
  } finally {
    await rabbit.close().catch(() => {});
  }
}
