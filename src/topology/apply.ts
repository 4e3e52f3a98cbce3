/**
 * The topology adapter: declares what `planTopology` returns on a real broker, and answers the
 * few questions the operator asks about queues. Thin on purpose: the mapping from plan to AMQP
 * method parameters is the pure `amqpDeclarations`, shared with the worker (which hands the same
 * declarations to rabbitmq-client so they are repeated on every reconnect).
 */
import { AMQPChannelError, AMQPConnectionError, AMQPError, Connection, type Channel } from 'rabbitmq-client';
import { redact, type Logger } from '../common/index.js';
import { BrokerUnavailableError, ExchangeMissingError, TopologyConflictError, TopologyError } from './errors.js';
import type { QueueArguments, TopologyPlan } from './plan.js';

export interface QueueState {
  name: string;
  exists: boolean;
  messages: number;
  consumers: number;
}

export interface TopologyClient {
  /**
   * Declare the exchange (passive check only when plan.exchange.declare is false), all queues with
   * their arguments, and the bindings. Idempotent; recreates queues and bindings deleted by hand.
   * Never deletes or redeclares a conflicting queue (TopologyConflictError). Throws
   * ExchangeMissingError when declare=false and the exchange is absent, BrokerUnavailableError
   * when the broker cannot be reached.
   */
  apply(plan: TopologyPlan): Promise<void>;
  /** Passive-declare each queue; exists=false for a missing one (never creates). */
  inspect(names: string[]): Promise<QueueState[]>;
  /** Delete the queue only if it is empty (queue.delete ifEmpty). */
  deleteIfEmpty(name: string): Promise<'deleted' | 'not-empty' | 'missing'>;
  close(): Promise<void>;
}

export interface TopologyClientOptions {
  /** amqp(s)://user:pass@host:port/vhost. The password never appears in errors or logs. */
  url: string;
  logger: Logger;
  /** How long an operation waits for the broker before BrokerUnavailableError. Default 5000 ms. */
  connectTimeoutMs?: number;
}

// ---- pure mapping: plan → AMQP method parameters ----

export interface ExchangeDeclareParams {
  exchange: string;
  type: string;
  durable: boolean;
  passive: boolean;
}
export interface QueueDeclareParams {
  queue: string;
  durable: true;
  arguments: QueueArguments;
}
export interface QueueBindParams {
  exchange: string;
  queue: string;
  routingKey: string;
}
export interface AmqpDeclarations {
  exchange: ExchangeDeclareParams;
  /** Work queue, rungs, parking queue, in plan order. */
  queues: QueueDeclareParams[];
  bindings: QueueBindParams[];
}

/** The AMQP declarations for a plan. Every Ladder queue is durable; the exchange is passive when the producers own it. */
export function amqpDeclarations(plan: TopologyPlan): AmqpDeclarations {
  return {
    exchange: { exchange: plan.exchange.name, type: plan.exchange.type, durable: plan.exchange.durable, passive: !plan.exchange.declare },
    queues: plan.queues.map((q) => ({ queue: q.name, durable: true, arguments: { ...q.arguments } })),
    bindings: plan.bindings.map((b) => ({ exchange: b.exchange, queue: b.queue, routingKey: b.routingKey })),
  };
}

// ---- the adapter ----

function codeOf(e: unknown): string | undefined {
  return e instanceof AMQPError ? e.code : undefined;
}

/** True when the error means "no broker" rather than "the broker said no". */
function isUnavailable(e: unknown): boolean {
  if (e instanceof AMQPConnectionError) return true;
  // acquire() waiting for a connection gives up with a plain AMQPError TIMEOUT.
  if (e instanceof AMQPError && !(e instanceof AMQPChannelError) && e.code === 'TIMEOUT') return true;
  return !(e instanceof AMQPError);
}

/**
 * Declare `decl` on `conn`. Used by the TopologyClient and by the worker at start-up (on the
 * worker's own connection). `broker` is the redacted URL for error messages.
 */
export async function declareTopology(conn: Connection, decl: AmqpDeclarations, broker: string): Promise<void> {
  const ch = await acquire(conn, broker);
  try {
    const ex = decl.exchange;
    try {
      await ch.exchangeDeclare(
        ex.passive ? { exchange: ex.exchange, passive: true } : { exchange: ex.exchange, type: ex.type, durable: ex.durable },
      );
    } catch (e) {
      if (isUnavailable(e)) throw new BrokerUnavailableError(broker, redact(String((e as Error).message)), { cause: e });
      if (ex.passive && codeOf(e) === 'NOT_FOUND') throw new ExchangeMissingError(ex.exchange, (e as Error).message, { cause: e });
      throw new TopologyError(`exchange ${ex.exchange}`, (e as Error).message, { cause: e });
    }
    for (const q of decl.queues) {
      try {
        await ch.queueDeclare({ queue: q.queue, durable: q.durable, arguments: q.arguments });
      } catch (e) {
        if (isUnavailable(e)) throw new BrokerUnavailableError(broker, redact(String((e as Error).message)), { cause: e });
        if (codeOf(e) === 'PRECONDITION_FAILED') throw new TopologyConflictError(q.queue, q.arguments, (e as Error).message, { cause: e });
        throw new TopologyError(`queue ${q.queue}`, (e as Error).message, { cause: e });
      }
    }
    for (const b of decl.bindings) {
      try {
        await ch.queueBind({ exchange: b.exchange, queue: b.queue, routingKey: b.routingKey });
      } catch (e) {
        if (isUnavailable(e)) throw new BrokerUnavailableError(broker, redact(String((e as Error).message)), { cause: e });
        throw new TopologyError(`binding ${b.exchange} -> ${b.queue} (${b.routingKey})`, (e as Error).message, { cause: e });
      }
    }
  } finally {
    await ch.close().catch(() => {});
  }
}

async function acquire(conn: Connection, broker: string, lastError?: () => unknown): Promise<Channel> {
  try {
    return await conn.acquire();
  } catch (e) {
    const cause = lastError?.() ?? e;
    const detail = cause instanceof Error ? `${(cause as { code?: string }).code ?? cause.name}: ${cause.message}` : String(cause);
    throw new BrokerUnavailableError(broker, redact(detail), { cause });
  }
}

class AmqpTopologyClient implements TopologyClient {
  readonly #url: string;
  readonly #broker: string;
  readonly #logger: Logger;
  readonly #timeoutMs: number;
  #conn: Connection | undefined;
  #lastError: unknown;

  constructor(options: TopologyClientOptions) {
    this.#url = options.url;
    this.#broker = redact(options.url);
    this.#logger = options.logger;
    this.#timeoutMs = options.connectTimeoutMs ?? 5000;
  }

  // Connect lazily: a client that is never used opens no connection.
  #connection(): Connection {
    if (this.#conn !== undefined) return this.#conn;
    const conn = new Connection({
      url: this.#url,
      connectionName: 'ladder-topology',
      acquireTimeout: this.#timeoutMs,
      connectionTimeout: this.#timeoutMs,
      retryLow: 200,
      retryHigh: 2000,
    });
    conn.on('error', (e: unknown) => {
      this.#lastError = e;
      this.#logger.warn('topology connection error', { broker: this.#broker, error: e });
    });
    conn.on('connection', () => {
      this.#lastError = undefined;
    });
    this.#conn = conn;
    return conn;
  }

  async #channel(): Promise<Channel> {
    return acquire(this.#connection(), this.#broker, () => this.#lastError);
  }

  async apply(plan: TopologyPlan): Promise<void> {
    const conn = this.#connection();
    // Surface "cannot connect" with its real cause (e.g. ECONNREFUSED) rather than a bare timeout.
    await this.#channel().then((ch) => ch.close());
    await declareTopology(conn, amqpDeclarations(plan), this.#broker);
    this.#logger.debug('topology applied', { work: plan.work, queues: plan.queues.length });
  }

  async inspect(names: string[]): Promise<QueueState[]> {
    const out: QueueState[] = [];
    let ch = await this.#channel();
    try {
      for (const name of names) {
        try {
          const ok = await ch.queueDeclare({ queue: name, passive: true });
          out.push({ name, exists: true, messages: ok.messageCount, consumers: ok.consumerCount });
        } catch (e) {
          if (codeOf(e) !== 'NOT_FOUND' || isUnavailable(e)) throw this.#wrap(e, `queue ${name}`);
          out.push({ name, exists: false, messages: 0, consumers: 0 });
          ch = await this.#channel(); // a failed passive declare closes the channel
        }
      }
    } finally {
      await ch.close().catch(() => {});
    }
    return out;
  }

  async deleteIfEmpty(name: string): Promise<'deleted' | 'not-empty' | 'missing'> {
    const [state] = await this.inspect([name]);
    if (!state?.exists) return 'missing';
    if (state.messages > 0) return 'not-empty';
    // queue.delete if-empty is atomic for classic queues, but quorum queues answer it with a
    // connection-level NOT_IMPLEMENTED error; so try it on a throwaway connection, never on the
    // shared one.
    const spare = new Connection({ url: this.#url, connectionName: 'ladder-topology-delete', acquireTimeout: this.#timeoutMs, connectionTimeout: this.#timeoutMs });
    spare.on('error', () => {});
    try {
      const ch = await acquire(spare, this.#broker);
      await ch.queueDelete({ queue: name, ifEmpty: true });
      await ch.close().catch(() => {});
      return 'deleted';
    } catch (e) {
      if (codeOf(e) === 'NOT_FOUND') return 'missing';
      if (codeOf(e) === 'PRECONDITION_FAILED') return 'not-empty';
      if (codeOf(e) !== 'NOT_IMPLEMENTED') throw this.#wrap(e, `queue ${name}`);
    } finally {
      spare.unsafeDestroy();
    }
    return this.#deleteChecked(name);
  }

  /**
   * Quorum queues: check, then delete. A message published between the two would be lost, so
   * this is only called for queues no current plan publishes to (old rungs), and the count the
   * broker reports for the delete is logged if it is ever non-zero.
   */
  async #deleteChecked(name: string): Promise<'deleted' | 'not-empty' | 'missing'> {
    const ch = await this.#channel();
    try {
      const ok = await ch.queueDeclare({ queue: name, passive: true });
      if (ok.messageCount > 0) return 'not-empty';
      const deleted = await ch.queueDelete({ queue: name });
      if (deleted.messageCount > 0) this.#logger.error('queue received messages between the emptiness check and the delete', { queue: name, messages: deleted.messageCount });
      return 'deleted';
    } catch (e) {
      if (codeOf(e) === 'NOT_FOUND' && !isUnavailable(e)) return 'missing';
      throw this.#wrap(e, `queue ${name}`);
    } finally {
      await ch.close().catch(() => {});
    }
  }

  #wrap(e: unknown, object: string): Error {
    if (isUnavailable(e)) return new BrokerUnavailableError(this.#broker, redact(String((e as Error).message)), { cause: e });
    return new TopologyError(object, (e as Error).message, { cause: e });
  }

  async close(): Promise<void> {
    const conn = this.#conn;
    this.#conn = undefined;
    if (conn !== undefined) await conn.close();
  }
}

export function createTopologyClient(options: TopologyClientOptions): TopologyClient {
  return new AmqpTopologyClient(options);
}
