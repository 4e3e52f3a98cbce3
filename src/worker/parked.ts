/**
 * Operations on a pipeline's parking queue: list parked notifications without consuming them, and
 * requeue them to the work queue for a fresh climb up the ladder.
 *
 * It lives beside the worker, not in topology/, because it speaks the worker's message
 * vocabulary (the `ladder-*` headers, `republishEnvelope`, `bodyBytes`) and topology/ sits below
 * the worker (the worker imports it, so the reverse import would be a cycle). No Kubernetes code.
 *
 * Pure part: `describeParked`, `requeueHeaders`, `requeueEnvelope`. Adapter: `listParked` and
 * `requeueParked`, each on its own short-lived connection, following the worker's rule: the parked
 * copy is acked only after the work queue confirmed the republish (mandatory; a return is a failure).
 */
import { randomUUID } from 'node:crypto';
import { AMQPError, Connection, type Channel, type SyncMessage } from 'rabbitmq-client';
import { redact } from '../common/index.js';
import { BrokerUnavailableError, type TopologyPlan } from '../topology/index.js';
import { RepublishError } from './errors.js';
import { HEADER, headerCount, headerText, readBookkeeping, republishEnvelope, republishHeaders, type ConsumedMessage } from './headers.js';
import { bodyBytes } from './worker.js';

/** Added on requeue: when an operator sent the notification back for a fresh climb (RFC 3339). */
export const REQUEUED_AT_HEADER = 'ladder-requeued-at';

/** Characters of the body shown by `list`. */
export const PREVIEW_CHARS = 80;

// ---- pure ----

export interface ParkedEntry {
  /** ladder-id, else the AMQP messageId, else undefined (never parked by a worker). */
  id: string | undefined;
  /** Attempts made (ladder-attempt). */
  attempts: number;
  firstSeen: string | undefined;
  reason: string | undefined;
  lastError: string | undefined;
  /** Body size in bytes. */
  bytes: number;
  /** The first PREVIEW_CHARS characters of the body as UTF-8, `…` appended when cut. */
  preview: string;
}

/** What `list` shows about one parked message. */
export function describeParked(msg: ConsumedMessage, body: Buffer, previewChars = PREVIEW_CHARS): ParkedEntry {
  const h = msg.headers ?? {};
  const chars = [...body.toString('utf8')];
  return {
    id: headerText(h[HEADER.id]) ?? headerText(msg.messageId),
    attempts: headerCount(h[HEADER.attempt]),
    firstSeen: headerText(h[HEADER.firstSeen]),
    reason: headerText(h[HEADER.parkedReason]),
    lastError: headerText(h[HEADER.lastError]),
    bytes: body.length,
    preview: chars.length > previewChars ? `${chars.slice(0, previewChars).join('')}…` : chars.join(''),
  };
}

/**
 * Headers for a requeued message: the parked copy's (minus broker bookkeeping and the parked
 * reason, via the worker's own `republishHeaders`), `ladder-attempt` back to 0 so the next worker
 * attempt is attempt 1 on rung 1, `ladder-id` and `ladder-first-seen` kept, `ladder-requeued-at` added.
 */
export function requeueHeaders(msg: ConsumedMessage, nowMs: number, newId: () => string): Record<string, unknown> {
  const book = readBookkeeping(msg, nowMs, newId);
  const lastError = headerText(msg.headers?.[HEADER.lastError]);
  const out = republishHeaders(msg.headers, { ...book, attempt: 0 }, lastError ?? '');
  if (lastError === undefined) delete out[HEADER.lastError];
  out[REQUEUED_AT_HEADER] = new Date(nowMs).toISOString();
  return out;
}

/** The publish of a requeued message: to the work queue through the default exchange, mandatory, persistent. */
export function requeueEnvelope(msg: ConsumedMessage, workQueue: string, nowMs: number, newId: () => string) {
  return republishEnvelope(msg, workQueue, requeueHeaders(msg, nowMs, newId));
}

// ---- adapter ----

/** The pipeline's parking queue does not exist (the pipeline never ran, or it was deleted). */
export class ParkedQueueMissingError extends Error {
  readonly code = 'LADDER_PARKED_QUEUE_MISSING';
  constructor(
    readonly queue: string,
    options?: { cause?: unknown },
  ) {
    super(`queue ${queue} does not exist (has the pipeline been applied or run?)`, options);
    this.name = 'ParkedQueueMissingError';
  }
}

export interface ParkedOptions {
  /** amqp(s)://user:pass@host:port/vhost; the password never appears in errors. */
  amqpUrl: string;
  /** The pipeline's plan; only `parked` and `work` are used. */
  plan: Pick<TopologyPlan, 'parked' | 'work'>;
  /** How long to wait for the broker before BrokerUnavailableError. Default 5000 ms. */
  connectTimeoutMs?: number;
}

export interface ListResult {
  queue: string;
  /** Messages ready in the parking queue before listing (and after: listing changes nothing). */
  depth: number;
  entries: ParkedEntry[];
}

export interface RequeueOptions extends ParkedOptions {
  /** Requeue at most this many. Default: all. */
  limit?: number;
  /** Requeue only messages whose ladder-id is in this set (every copy of it). Default: all. */
  ids?: ReadonlySet<string>;
  /** How long to wait for a publisher confirm. Default 10000 ms. */
  confirmTimeoutMs?: number;
  /** Clock and id source (for messages without any id), injectable for tests. */
  now?: () => number;
  newId?: () => string;
}

export interface RequeueResult {
  queue: string;
  work: string;
  /** Messages looked at (at most the depth seen at the start, so re-parked ones are not looped over). */
  scanned: number;
  /** ladder-ids of the requeued messages, in order. */
  requeued: string[];
  /** The publish that was not confirmed; that message and every later one stayed parked. */
  failure?: { id: string; error: RepublishError };
}

interface Session {
  conn: Connection;
  ch: Channel;
  broker: string;
  close(): Promise<void>;
}

async function open(o: ParkedOptions, name: string): Promise<Session> {
  const broker = redact(o.amqpUrl);
  const timeoutMs = o.connectTimeoutMs ?? 5000;
  const conn = new Connection({ url: o.amqpUrl, connectionName: name, connectionTimeout: timeoutMs, acquireTimeout: timeoutMs, retryLow: 200, retryHigh: 1000 });
  let lastError: unknown;
  conn.on('error', (e: unknown) => {
    lastError = e;
  });
  try {
    // disableAutoClose: close() below runs once; the client otherwise closes on a failed wait.
    await conn.onConnect(timeoutMs, true);
    const ch = await conn.acquire();
    return {
      conn,
      ch,
      broker,
      async close() {
        // Closing the channel gives back every delivery not acked yet (the broker requeues them).
        await ch.close().catch(() => {});
        await conn.close().catch(() => {});
      },
    };
  } catch (e) {
    conn.unsafeDestroy();
    const cause = lastError ?? e;
    const detail = cause instanceof Error ? `${(cause as { code?: string }).code ?? cause.name}: ${cause.message}` : String(cause);
    throw new BrokerUnavailableError(broker, redact(detail), { cause });
  }
}

async function depthOf(s: Session, queue: string): Promise<number> {
  try {
    return (await s.ch.queueDeclare({ queue, passive: true })).messageCount;
  } catch (e) {
    if (e instanceof AMQPError && e.code === 'NOT_FOUND') throw new ParkedQueueMissingError(queue, { cause: e });
    throw e;
  }
}

/** Give every held delivery back, in the order received, to its place in the queue. */
function giveBack(ch: Channel, tags: number[]): void {
  for (const deliveryTag of tags) ch.basicNack({ deliveryTag, requeue: true });
}

/**
 * Up to `limit` parked messages, without consuming any: each is fetched unacked (basic.get,
 * no-ack=false) and all are given back (nack with requeue) before returning.
 */
export async function listParked(o: ParkedOptions & { limit: number }): Promise<ListResult> {
  const s = await open(o, 'ladder-parked-list');
  try {
    const queue = o.plan.parked;
    const depth = await depthOf(s, queue);
    const entries: ParkedEntry[] = [];
    const held: number[] = [];
    try {
      // Unacked deliveries are not handed out again on this channel, so each get returns the next one.
      while (entries.length < Math.min(o.limit, depth)) {
        const m: SyncMessage | undefined = await s.ch.basicGet({ queue, noAck: false });
        if (m === undefined) break;
        held.push(m.deliveryTag);
        entries.push(describeParked(m, bodyBytes(m.body)));
      }
    } finally {
      if (s.ch.active) giveBack(s.ch, held);
    }
    return { queue, depth, entries };
  } finally {
    await s.close();
  }
}

/**
 * Move parked messages to the work queue: publish each (confirmed, mandatory) with fresh
 * bookkeeping, then ack its parked copy. Messages not selected are given back untouched. Stops at
 * the first unconfirmed publish (reported in `failure`); that message is given back, not acked.
 */
export async function requeueParked(o: RequeueOptions): Promise<RequeueResult> {
  const now = o.now ?? Date.now;
  const newId = o.newId ?? randomUUID;
  const confirmTimeoutMs = o.confirmTimeoutMs ?? 10_000;
  const limit = o.limit ?? Number.POSITIVE_INFINITY;
  const s = await open(o, 'ladder-parked-requeue');
  try {
    const queue = o.plan.parked;
    const work = o.plan.work;
    const depth = await depthOf(s, queue);
    await s.ch.confirmSelect();
    // Publishes go one at a time, so a basic.return belongs to the publish in flight.
    let returned = false;
    s.ch.on('basic.return', () => {
      returned = true;
    });
    const result: RequeueResult = { queue, work, scanned: 0, requeued: [] };
    const held: number[] = [];
    try {
      // Bounded by the depth seen at the start: a worker may re-park a requeued message meanwhile,
      // and it must not be requeued again in the same run.
      while (result.scanned < depth && result.requeued.length < limit) {
        const m = await s.ch.basicGet({ queue, noAck: false });
        if (m === undefined) break;
        result.scanned++;
        const headers = requeueHeaders(m, now(), newId);
        const id = String(headers[HEADER.id]);
        if (o.ids !== undefined && !o.ids.has(id)) {
          held.push(m.deliveryTag);
          continue;
        }
        const envelope = republishEnvelope(m, work, headers);
        returned = false;
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            s.ch.basicPublish(envelope, bodyBytes(m.body)),
            new Promise((_, reject) => (timer = setTimeout(() => reject(new RepublishError(work, 'timeout')), confirmTimeoutMs))),
          ]);
          // The client emits basic.return on setImmediate after reading it, before the confirm.
          await new Promise((r) => setImmediate(r));
          if (returned) throw new RepublishError(work, 'returned');
        } catch (e) {
          held.push(m.deliveryTag);
          const error = e instanceof RepublishError ? e : new RepublishError(work, e instanceof AMQPError && e.code === 'NACK' ? 'nacked' : 'channel', { cause: e });
          result.failure = { id, error };
          break;
        } finally {
          clearTimeout(timer);
        }
        // Only now, with the copy safely on the work queue: a crash before this ack makes a duplicate, never a loss.
        s.ch.basicAck({ deliveryTag: m.deliveryTag });
        result.requeued.push(id);
      }
    } finally {
      if (s.ch.active) giveBack(s.ch, held);
    }
    return result;
  } finally {
    await s.close();
  }
}
