/**
 * The callback worker: consume the pipeline's work queue, POST each notification to its
 * merchant, and settle it — ack when delivered, otherwise a confirmed republish to the next rung
 * or the parking queue, and only then the ack.
 *
 * AMQP library: rabbitmq-client, because it reconnects by itself and re-runs each Consumer's
 * and Publisher's declarations on every new channel (so a broker restart redeclares the
 * topology before consuming resumes), has publisher confirms built in, and a Consumer whose
 * handler *returns* its ack/nack verdict with bounded concurrency — the shape of the settle step.
 * Its one gap for us: a basic.return arrives as an event separate from the confirm (the broker
 * confirms an unroutable mandatory message), so `#republish` correlates the two itself.
 */
import { randomUUID } from 'node:crypto';
import { Connection, ConsumerStatus, type AsyncMessage, type Consumer, type Publisher, type ReturnedMessage } from 'rabbitmq-client';
import type { NotifyPipeline } from '../api/index.js';
import { parseDuration } from '../api/index.js';
import { redact, type Logger } from '../common/index.js';
import {
  amqpDeclarations,
  BrokerUnavailableError,
  declareTopology,
  planTopology,
  type AmqpDeclarations,
  type TopologyPlan,
} from '../topology/index.js';
import { classifyAnswer, classifyFailure, successPredicate, type HttpAnswer, type Verdict } from './classify.js';
import { decide, type Decision } from './decide.js';
import { createDeliveryClient, type DeliveryClient } from './deliver.js';
import { RepublishError, WorkerClosedError } from './errors.js';
import { HEADER, readBookkeeping, republishEnvelope, republishHeaders, type Bookkeeping } from './headers.js';
import { webhookHeaders, signingKey } from './signing.js';
import { addressGuard } from './ssrf.js';
import { targetResolver, type MessageView, type TargetResult } from './target.js';

export interface OutcomeEvent {
  id: string;
  attempt: number;
  outcome: 'delivered' | 'retry' | 'parked';
  status?: number;
  error?: string;
  latencyMs: number;
  /** The rung or parking queue the notification was republished to. */
  queue?: string;
}

export interface WorkerOptions {
  /** Parsed by parsePipeline (defaults filled). */
  pipeline: NotifyPipeline;
  /** amqp(s)://user:pass@host:port/vhost; the password is never logged. */
  amqpUrl: string;
  /** Standard Webhooks secret, 'whsec_<base64>'. Without it, requests are not signed. */
  signingSecret?: string;
  logger: Logger;
  /** Default true: apply the plan at start and on every reconnect. */
  declareTopology?: boolean;
  /** Called once per settled attempt (after the ack). For the demo, tests and metrics. */
  onOutcome?: (e: OutcomeEvent) => void;
  /** How long to wait for a publisher confirm before giving the message back. Default 10000 ms. */
  confirmTimeoutMs?: number;
  /** Pause before giving back a message whose republish failed, so a missing queue cannot spin. Default 500 ms. */
  requeueDelayMs?: number;
}

/** What the handler returns when it gives a message back to the queue. */
const GIVE_BACK = ConsumerStatus.REQUEUE;

export class Worker {
  readonly #pipeline: NotifyPipeline;
  readonly #url: string;
  readonly #broker: string;
  readonly #log: Logger;
  readonly #declare: boolean;
  readonly #onOutcome: ((e: OutcomeEvent) => void) | undefined;
  readonly #plan: TopologyPlan;
  readonly #decl: AmqpDeclarations;
  readonly #isSuccess: (a: HttpAnswer) => boolean;
  readonly #key: Buffer | undefined;
  readonly #http: DeliveryClient;
  readonly #timeoutMs: number;
  readonly #confirmTimeoutMs: number;
  readonly #requeueDelayMs: number;
  readonly #resolveTarget: (msg: MessageView) => TargetResult;
  /** The logged target (origin + path) of the last URL object seen: a fixed target reuses one. */
  #lastUrl: URL | undefined;
  #lastTarget = '';

  #conn: Connection | undefined;
  #consumer: Consumer | undefined;
  #publisher: Publisher | undefined;
  #inFlight = 0;
  #closing = false;
  #closed: Promise<void> | undefined;
  #abortStart: (() => void) | undefined;
  /** Republishes the broker returned (no such queue), keyed by queue|id|attempt until checked. */
  readonly #returned = new Set<string>();
  #repair: Promise<void> | undefined;

  constructor(options: WorkerOptions) {
    const { pipeline } = options;
    const spec = pipeline.spec;
    this.#pipeline = pipeline;
    this.#url = options.amqpUrl;
    this.#broker = redact(options.amqpUrl);
    this.#log = options.logger.child({ pipeline: `${pipeline.metadata.namespace}/${pipeline.metadata.name}` });
    this.#declare = options.declareTopology ?? true;
    this.#onOutcome = options.onOutcome;
    this.#plan = planTopology({ namespace: pipeline.metadata.namespace, name: pipeline.metadata.name }, spec);
    this.#decl = amqpDeclarations(this.#plan);
    this.#isSuccess = successPredicate(spec.delivery.success);
    this.#key = options.signingSecret !== undefined && options.signingSecret !== '' ? signingKey(options.signingSecret) : undefined;
    this.#timeoutMs = parseDuration(spec.delivery.timeout) ?? 5000;
    this.#confirmTimeoutMs = options.confirmTimeoutMs ?? 10_000;
    this.#requeueDelayMs = options.requeueDelayMs ?? 500;
    this.#resolveTarget = targetResolver(spec.delivery.target);
    this.#http = createDeliveryClient({
      connections: spec.workers.concurrency,
      method: spec.delivery.method,
      timeoutMs: this.#timeoutMs,
      maxResponseBytes: spec.delivery.maxResponseBytes,
      checkAddress: addressGuard({ allowPrivateNetworks: spec.delivery.allowPrivateNetworks, allowedCidrs: spec.delivery.allowedCidrs }),
    });
  }

  get plan(): TopologyPlan {
    return this.#plan;
  }

  /** Resolves once consuming. Rejects on a topology conflict or a missing exchange, or when closed first. */
  async start(): Promise<void> {
    if (this.#conn !== undefined) throw new Error('Worker.start() called twice');
    if (this.#closing) throw new WorkerClosedError();
    const conn = new Connection({
      url: this.#url,
      connectionName: `ladder-worker ${this.#pipeline.metadata.namespace}/${this.#pipeline.metadata.name}`,
      retryLow: 250,
      retryHigh: 5000,
      acquireTimeout: 5000,
      connectionTimeout: 5000,
      heartbeat: 15,
    });
    this.#conn = conn;
    conn.on('error', (e: unknown) => this.#log.warn('rabbitmq connection error', { broker: this.#broker, error: e }));
    conn.on('connection', () => this.#log.info('rabbitmq connected', { broker: this.#broker }));

    if (this.#declare) {
      try {
        await this.#declareUntilDone();
      } catch (e) {
        await this.close(); // a failed start leaves nothing open
        throw e;
      }
    }

    const publisher = conn.createPublisher({
      confirm: true,
      maxAttempts: 1,
      // Redeclared whenever the publisher gets a new channel (after a reconnect).
      ...(this.#declare ? { queues: this.#decl.queues.slice(1) } : {}),
    });
    publisher.on('basic.return', (m: ReturnedMessage) => this.#onReturn(m));
    this.#publisher = publisher;

    const ex = this.#decl.exchange;
    const consumer = conn.createConsumer(
      {
        queue: this.#plan.work,
        // With declareTopology, every (re)connect redeclares the work queue, the exchange and the
        // binding before consuming; without it, only check the queue exists.
        queueOptions: this.#declare ? { durable: true, arguments: this.#decl.queues[0]!.arguments } : { passive: true },
        ...(this.#declare
          ? {
              exchanges: [ex.passive ? { exchange: ex.exchange, passive: true } : { exchange: ex.exchange, type: ex.type, durable: ex.durable }],
              queueBindings: this.#decl.bindings,
            }
          : {}),
        qos: { prefetchCount: this.#pipeline.spec.workers.concurrency },
        concurrency: this.#pipeline.spec.workers.concurrency,
        requeue: true,
        lazy: true,
      },
      (msg) => this.#handle(msg),
    );
    consumer.on('error', (e: unknown) => this.#log.warn('consumer error', { error: e }));
    consumer.on('ready', () => this.#log.info('consuming', { queue: this.#plan.work, prefetch: this.#pipeline.spec.workers.concurrency }));
    this.#consumer = consumer;

    await new Promise<void>((resolve, reject) => {
      const ready = () => {
        this.#abortStart = undefined;
        resolve();
      };
      consumer.once('ready', ready);
      this.#abortStart = () => {
        consumer.off('ready', ready);
        reject(new WorkerClosedError());
      };
      consumer.start();
    });
  }

  /** Declare the topology, waiting out an unreachable broker; a conflict or missing exchange is fatal. */
  async #declareUntilDone(): Promise<void> {
    for (;;) {
      if (this.#closing) throw new WorkerClosedError();
      try {
        await declareTopology(this.#conn!, this.#decl, this.#broker);
        return;
      } catch (e) {
        if (!(e instanceof BrokerUnavailableError) || this.#closing) {
          if (!this.#closing) this.#log.error('cannot declare the topology', { error: e });
          throw this.#closing ? new WorkerClosedError() : e;
        }
        this.#log.warn('broker unavailable; retrying', { error: e });
      }
    }
  }

  health(): { connected: boolean; consuming: boolean; inFlight: number } {
    return {
      connected: this.#conn?.ready ?? false,
      consuming: !this.#closing && this.#consumer !== undefined && this.#consumer.consumerTag !== '',
      inFlight: this.#inFlight,
    };
  }

  /**
   * Stop consuming, let in-flight deliveries finish and settle (bounded by the delivery timeout
   * plus the confirm timeout), then close. Prefetched but unstarted messages go back to the
   * queue when the channel closes.
   */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    this.#abortStart?.();
    const graceful = (async () => {
      await this.#consumer?.close();
      await this.#publisher?.close();
      await this.#conn?.close();
      await this.#http.close();
    })();
    const limitMs = this.#timeoutMs + this.#confirmTimeoutMs + this.#requeueDelayMs + 2000;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((r) => (timer = setTimeout(() => r('expired'), limitMs)));
    const how = await Promise.race([graceful.then(() => 'done' as const, (e: unknown) => e), expired]);
    clearTimeout(timer);
    if (how !== 'done') {
      // Unacked messages are redelivered by the broker once the connection is gone: nothing is lost.
      this.#log.warn('graceful close did not finish; closing hard', { reason: how === 'expired' ? `after ${limitMs} ms` : how });
      this.#conn?.unsafeDestroy();
      await this.#http.destroy().catch(() => {});
    }
    this.#log.info('worker closed');
  }

  // ---- one message ----

  async #handle(msg: AsyncMessage): Promise<ConsumerStatus> {
    this.#inFlight++;
    try {
      return await this.#process(msg);
    } finally {
      this.#inFlight--;
    }
  }

  async #process(msg: AsyncMessage): Promise<ConsumerStatus> {
    const book = readBookkeeping(msg, Date.now(), randomUUID);
    const body = bodyBytes(msg.body);
    const started = performance.now();
    let verdict: Verdict;
    let target: string | undefined;
    try {
      const resolved = this.#resolveTarget({ body, contentType: msg.contentType, headers: msg.headers ?? {} });
      if (!resolved.ok) {
        verdict = classifyFailure({ kind: 'invalid-target', message: resolved.reason });
      } else {
        const req = resolved.request;
        target = this.#targetOf(req.url);
        const headers = webhookHeaders({ id: book.id, timestampSec: Math.floor(Date.now() / 1000), body: req.body, key: this.#key });
        const result = await this.#http.send(req, headers);
        verdict = 'answer' in result ? classifyAnswer(this.#isSuccess, result.answer) : classifyFailure(result.failure);
      }
    } catch (e) {
      // A bug must not lose or spin the message: retry it on the ladder like any failure.
      this.#log.error('delivery attempt failed unexpectedly', { id: book.id, error: e });
      verdict = { kind: 'retry', reason: `internal error: ${(e as Error).message}` };
    }
    const latencyMs = Math.round(performance.now() - started);
    const decision = decide(verdict, book.attempt, this.#plan);
    const status = verdict.kind === 'delivered' ? verdict.status : verdict.status;
    const error = verdict.kind === 'delivered' ? undefined : verdict.reason;

    try {
      await this.#settle(msg, body, book, decision);
    } catch (e) {
      this.#log.warn('attempt', { id: book.id, attempt: book.attempt, outcome: 'requeued', status, latencyMs, error: `${error ?? ''}; ${(e as Error).message}`, target });
      if (e instanceof RepublishError && e.reason === 'returned') this.#repairTopology();
      if (!this.#closing) await new Promise((r) => setTimeout(r, this.#requeueDelayMs));
      return GIVE_BACK;
    }
    const queue = decision.action === 'republish' ? decision.queue : undefined;
    const event: OutcomeEvent = {
      id: book.id,
      attempt: book.attempt,
      outcome: decision.outcome,
      latencyMs,
      ...(status !== undefined ? { status } : {}),
      ...(error !== undefined ? { error } : {}),
      ...(queue !== undefined ? { queue } : {}),
    };
    this.#log.info('attempt', { ...event, target });
    try {
      this.#onOutcome?.(event);
    } catch (e) {
      this.#log.error('onOutcome callback threw', { error: e });
    }
    return ConsumerStatus.ACK;
  }

  /** What the attempt log shows of a URL: no query string, it carries payment data. */
  #targetOf(url: URL): string {
    if (url !== this.#lastUrl) {
      this.#lastUrl = url;
      this.#lastTarget = `${url.origin}${url.pathname}`;
    }
    return this.#lastTarget;
  }

  /**
   * The one place a decision becomes broker state. Delivered: nothing to publish (the caller
   * acks). Retry or park: publish to the rung or parking queue and wait for the confirm; a
   * return or nack throws, and the caller then gives the message back instead of acking.
   */
  async #settle(msg: AsyncMessage, body: Buffer, book: Bookkeeping, decision: Decision): Promise<void> {
    if (decision.action === 'ack') return;
    const headers = republishHeaders(msg.headers, book, decision.lastError, decision.outcome === 'parked' ? decision.parkedReason : undefined);
    await this.#republish(republishEnvelope(msg, decision.queue, headers), body, book);
  }

  async #republish(envelope: ReturnType<typeof republishEnvelope>, body: Buffer, book: Bookkeeping): Promise<void> {
    const publisher = this.#publisher;
    if (publisher === undefined) throw new RepublishError(envelope.routingKey, 'channel');
    const key = returnKey(envelope.routingKey, book.id, book.attempt);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        publisher.send(envelope, body),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new RepublishError(envelope.routingKey, 'timeout')), this.#confirmTimeoutMs))),
      ]);
    } catch (e) {
      if (e instanceof RepublishError) throw e;
      const code = (e as { code?: unknown }).code;
      throw new RepublishError(envelope.routingKey, code === 'NACK' ? 'nacked' : 'channel', { cause: e });
    } finally {
      clearTimeout(timer);
    }
    // The broker sends basic.return before the confirm, but the client emits it on a later
    // turn of the event loop (setImmediate); yield one turn so it has been recorded.
    await new Promise((r) => setImmediate(r));
    if (this.#returned.delete(key)) throw new RepublishError(envelope.routingKey, 'returned');
  }

  #onReturn(m: ReturnedMessage): void {
    const h = m.headers ?? {};
    const key = returnKey(m.routingKey, String(h[HEADER.id] ?? ''), Number(h[HEADER.attempt] ?? 0));
    // Entries are removed when checked; cap the set in case a check timed out first.
    if (this.#returned.size > 10_000) this.#returned.clear();
    this.#returned.add(key);
    this.#log.warn('republish returned by the broker (queue missing)', { queue: m.routingKey, replyText: m.replyText });
  }

  /** A rung or the parking queue vanished (deleted by hand): redeclare once, in the background. */
  #repairTopology(): void {
    if (!this.#declare || this.#repair !== undefined || this.#conn === undefined || this.#closing) return;
    this.#repair = declareTopology(this.#conn, this.#decl, this.#broker)
      .then(
        () => this.#log.info('topology redeclared after a returned republish'),
        (e: unknown) => this.#log.error('cannot redeclare the topology', { error: e }),
      )
      .finally(() => {
        this.#repair = undefined;
      });
  }
}

function returnKey(queue: string, id: string, attempt: number): string {
  return `${queue}|${id}|${attempt}`;
}

/**
 * The message body as bytes. rabbitmq-client hands text/plain bodies over as strings and
 * application/json bodies as parsed values; turn both back into bytes.
 */
export function bodyBytes(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body === undefined) return Buffer.alloc(0);
  return Buffer.from(JSON.stringify(body), 'utf8');
}
