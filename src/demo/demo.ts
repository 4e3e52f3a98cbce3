/**
 * `ladder demo`: the whole story in one process, on the real broker. A demo merchant on
 * loopback, a Worker consuming the pipeline of examples/demo.yaml in a throwaway namespace,
 * a handful of notifications, and one line per attempt as the worker settles it.
 */
import { randomBytes } from 'node:crypto';
import { Connection } from 'rabbitmq-client';
import { formatDuration, type NotifyPipeline } from '../api/index.js';
import type { Logger } from '../common/index.js';
import { planTopology, rungAfterAttempt, type TopologyPlan } from '../topology/index.js';
import { Worker, type OutcomeEvent } from '../worker/index.js';
import { startMerchant } from './merchant.js';
import { buildNotification } from './notifications.js';
import { publishNotifications } from './publisher.js';
import { formatOutcome, orderScript } from './script.js';

export interface DemoOptions {
  /** The pipeline to run (examples/demo.yaml); its namespace and exchange get a random suffix. */
  pipeline: NotifyPipeline;
  amqpUrl: string;
  logger: Logger;
  /** Notifications to publish. Default 6. */
  count?: number;
  /** Leave the queues and exchange behind. Default false. */
  keep?: boolean;
  /** Give up after this long. Default 30000 ms. */
  deadlineMs?: number;
  /** Where the human-readable view goes (one line per call). */
  print: (line: string) => void;
  /** Resolves when the user interrupts (SIGINT); the demo then cleans up and stops. */
  interrupted?: Promise<unknown>;
}

export interface DemoResult {
  delivered: number;
  parked: number;
  attempts: number;
  /** Every notification ended as its script expected, within the deadline. */
  ok: boolean;
}

export class DemoError extends Error {
  readonly code = 'LADDER_DEMO_FAILED';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DemoError';
  }
}

interface OrderState {
  order: string;
  final?: OutcomeEvent;
}

/** The demo's own copy of the pipeline: namespace demo-<id>, exchange <exchange>.<id>, so two demos never meet. */
export function isolate(pipeline: NotifyPipeline, id: string): NotifyPipeline {
  return {
    ...pipeline,
    metadata: { ...pipeline.metadata, namespace: `demo-${id}` },
    spec: { ...pipeline.spec, source: { ...pipeline.spec.source, exchange: `${pipeline.spec.source.exchange}.${id}`, declare: true } },
  };
}

async function cleanup(amqpUrl: string, plan: TopologyPlan): Promise<number> {
  const rabbit = new Connection({ url: amqpUrl, retryLow: 100, retryHigh: 500 });
  rabbit.on('error', () => {});
  try {
    await rabbit.onConnect(5000, true);
    let deleted = 0;
    // The demo owns these queues outright (its own namespace), so it deletes them even when not empty.
    for (const q of plan.queues) {
      await rabbit.queueDelete({ queue: q.name });
      deleted++;
    }
    await rabbit.exchangeDelete({ exchange: plan.exchange.name });
    return deleted;
  } finally {
    await rabbit.close().catch(() => {});
  }
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const count = options.count ?? 6;
  const id = randomBytes(3).toString('hex');
  const pipeline = isolate(options.pipeline, id);
  const plan = planTopology({ namespace: pipeline.metadata.namespace, name: pipeline.metadata.name }, pipeline.spec);
  const print = options.print;
  const orders = new Map<string, OrderState>();
  const orderOfNumber = (n: number) => `order-${n}`;
  const merchant = await startMerchant({ answer: (r) => orderScript(Number(r.orderId.replace('order-', '')) || 1).answer(r.attempt) });

  let attempts = 0;
  let allDone: () => void = () => {};
  const done = new Promise<void>((r) => (allDone = r));
  const started = performance.now();
  const width = orderOfNumber(count).length;
  const onOutcome = (e: OutcomeEvent) => {
    const state = orders.get(e.id);
    if (state === undefined) return; // not one of ours
    attempts++;
    const next = e.outcome === 'retry' ? rungAfterAttempt(plan, e.attempt) : undefined;
    print(formatOutcome({ order: state.order, attempt: e.attempt, outcome: e.outcome, ...(e.status !== undefined ? { status: e.status } : {}), ...(e.error !== undefined ? { error: e.error } : {}), ...(next ? { nextDelayMs: next.delayMs } : {}), atSec: (performance.now() - started) / 1000 }, width));
    if (e.outcome !== 'retry') state.final = e;
    if ([...orders.values()].every((o) => o.final !== undefined)) allDone();
  };

  const worker = new Worker({ pipeline, amqpUrl: options.amqpUrl, logger: options.logger, onOutcome });
  let result: DemoResult = { delivered: 0, parked: 0, attempts: 0, ok: false };
  try {
    const ladder = plan.ladderMs.map(formatDuration).join(' → ');
    print(`Ladder demo: pipeline ${pipeline.metadata.namespace}/${pipeline.metadata.name}, retry ladder ${ladder}, then parked.`);
    print(`  merchant ${merchant.url}  (a real HTTP server; Alipay's rule: only HTTP 200 with body "success" confirms)`);
    print(`  queues   ${plan.work}, ${plan.queues.filter((q) => q.role === 'rung').map((q) => `.delay.${formatDuration(q.delayMs!)}`).join(', ')}, .parked`);
    print('  how      the worker POSTs each notification to the merchant; an answer that is not a success goes');
    print('           to the next delay queue (rung) and comes back when its TTL expires; after the last rung');
    print('           it is parked. The worker acks a message only once its next place is confirmed.');
    print('');
    const startTimeoutMs = 10_000;
    let startTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      worker.start(),
      new Promise((_, reject) => (startTimer = setTimeout(() => reject(new DemoError(`the worker could not start within ${startTimeoutMs / 1000}s: is RabbitMQ running at $AMQP_URL?`)), startTimeoutMs))),
    ]).finally(() => clearTimeout(startTimer));
    const nowMs = Date.now();
    const messages = [];
    for (let n = 1; n <= count; n++) {
      const messageId = `demo-${id}-${n}`;
      orders.set(messageId, { order: orderOfNumber(n) });
      print(`  ${orderOfNumber(n).padEnd(width)}  the merchant ${orderScript(n).story}`);
      messages.push(buildNotification(pipeline.spec, { messageId, orderId: orderOfNumber(n), notifyUrl: merchant.url, nowMs }));
    }
    print('');
    print(`Publishing ${count} notifications to exchange ${pipeline.spec.source.exchange} (routing key ${pipeline.spec.source.routingKey}), as the seed's producer does:`);
    await publishNotifications({ amqpUrl: options.amqpUrl, exchange: pipeline.spec.source.exchange, routingKey: pipeline.spec.source.routingKey, messages });

    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((r) => (timer = setTimeout(() => r('deadline'), options.deadlineMs ?? 30_000)));
    const how = await Promise.race([done.then(() => 'done' as const), deadline, ...(options.interrupted ? [options.interrupted.then(() => 'interrupted' as const)] : [])]);
    clearTimeout(timer);

    const finals = [...orders.values()];
    const delivered = finals.filter((o) => o.final?.outcome === 'delivered');
    const parked = finals.filter((o) => o.final?.outcome === 'parked');
    const pending = finals.filter((o) => o.final === undefined);
    const asExpected = [...orders.entries()].every(([, o]) => o.final?.outcome === orderScript(Number(o.order.replace('order-', ''))).expect);
    result = { delivered: delivered.length, parked: parked.length, attempts, ok: how === 'done' && asExpected };

    print('');
    print(`Summary: ${count} notifications, ${delivered.length} delivered, ${parked.length} parked, ${attempts} attempts in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
    if (delivered.length > 0) print(`  delivered  ${delivered.map((o) => `${o.order} (${o.final!.attempt} attempt${o.final!.attempt === 1 ? '' : 's'})`).join(', ')}`);
    for (const o of parked) print(`  parked     ${o.order} after ${o.final!.attempt} attempts: ${o.final!.error ?? ''} (kept in ${plan.parked}, never dropped)`);
    if (pending.length > 0) print(`  unfinished ${pending.map((o) => o.order).join(', ')} (${how === 'interrupted' ? 'interrupted' : 'deadline passed'})`);
  } finally {
    await worker.close().catch((e: unknown) => options.logger.warn('closing the worker failed', { error: e }));
    await merchant.close();
    if (options.keep === true) {
      print(`Kept queues ${plan.queues.map((q) => q.name).join(', ')} and exchange ${plan.exchange.name} (--keep).`);
    } else {
      try {
        const n = await cleanup(options.amqpUrl, plan);
        print(`Cleaned up: deleted the demo's ${n} queues and its exchange (--keep leaves them).`);
      } catch (e) {
        options.logger.warn('cleanup failed', { error: e });
      }
    }
  }
  return result;
}
