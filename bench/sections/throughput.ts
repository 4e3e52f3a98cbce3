/**
 * Deliveries per second of one Worker against a fast local merchant, next to the two ceilings it
 * cannot beat, all measured in this run on the same queue type, concurrency, merchant and body:
 *   - AMQP ceiling: a bare rabbitmq-client consume-and-ack loop (no HTTP);
 *   - HTTP ceiling: a bare undici POST loop (no AMQP).
 * The worker does both plus its bookkeeping, so its rate over the lower ceiling is the overhead.
 */
import { randomBytes } from 'node:crypto';
import { ConsumerStatus } from 'rabbitmq-client';
import { Agent, request } from 'undici';
import { parsePipeline } from '../../src/api/index.js';
import { createLogger } from '../../src/common/index.js';
import { buildNotification, type Notification } from '../../src/demo/notifications.js';
import { publishNotifications } from '../../src/demo/publisher.js';
import { createTopologyClient, planTopology } from '../../src/topology/index.js';
import { Worker } from '../../src/worker/index.js';
import { AMQP_URL, broker, deleteAll, merchantProcess, round, waitFor, type Section } from '../lib.js';

const N = Number(process.env['BENCH_THROUGHPUT_N'] ?? 20_000);
const CONCURRENCY = 64;

export const throughput: Section = {
  name: 'throughput',
  title: 'Delivery throughput of one worker vs bare AMQP and HTTP ceilings',
  async run({ log }) {
    const id = randomBytes(3).toString('hex');
    const merchant = await merchantProcess(); // HTTP 200 "success" at once, in its own process
    const rabbit = await broker();
    const logger = createLogger({ level: 'error' });
    const pipeline = parsePipeline({
      apiVersion: 'ladder.dev/v1alpha1',
      kind: 'NotifyPipeline',
      metadata: { name: 'throughput', namespace: `bench-${id}` },
      spec: {
        source: { exchange: `bench.${id}.ex`, exchangeType: 'topic', durable: true, routingKey: 'notify' },
        retry: { ladder: ['1m'] },
        delivery: { target: { url: merchant.url }, success: { preset: 'http-2xx' }, allowPrivateNetworks: true },
        queues: { type: 'quorum' },
        workers: { concurrency: CONCURRENCY },
      },
    });
    const plan = planTopology({ namespace: pipeline.metadata.namespace, name: pipeline.metadata.name }, pipeline.spec);
    const ceilingQueue = `bench.${id}.amqp-ceiling`;
    const messages = (prefix: string): Notification[] =>
      Array.from({ length: N }, (_, i) => buildNotification(pipeline.spec, { messageId: `${prefix}-${i}`, orderId: `order-${i}`, notifyUrl: merchant.url, nowMs: Date.now() }));
    // The HTTP ceiling posts the same kind of notifications the worker delivers (one order each),
    // so the merchant does the same per-order work in both runs.
    const httpBodies = messages('http').map((m) => m.body);
    const body = httpBodies[0]!;

    try {
      // HTTP ceiling: CONCURRENCY loops POSTing the notifications through one keep-alive pool.
      const agent = new Agent({ connections: CONCURRENCY, pipelining: 1 });
      let sent = 0;
      const httpStart = performance.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (sent < N) {
            const res = await request(merchant.url, { method: 'POST', body: httpBodies[sent++]!, headers: { 'content-type': 'application/json' }, dispatcher: agent });
            if ((await res.body.text()) !== 'success') throw new Error('merchant did not answer success');
          }
        }),
      );
      const httpRate = N / ((performance.now() - httpStart) / 1000);
      await agent.close();
      log(`http ceiling: ${Math.round(httpRate)}/s`);

      // AMQP ceiling: the same number of messages, same queue type, prefetch = concurrency, ack each.
      await rabbit.queueDeclare({ queue: ceilingQueue, durable: true, arguments: { 'x-queue-type': 'quorum' } });
      const pub = await publishNotifications({ amqpUrl: AMQP_URL, exchange: '', routingKey: ceilingQueue, messages: messages('amqp') });
      const publishRate = pub.confirmed / (pub.elapsedMs / 1000);
      log(`published ${pub.confirmed} (confirmed) at ${Math.round(publishRate)}/s`);
      let consumed = 0;
      const amqpStart = performance.now();
      const sub = rabbit.createConsumer({ queue: ceilingQueue, queueOptions: { passive: true }, qos: { prefetchCount: CONCURRENCY }, concurrency: CONCURRENCY }, async () => {
        consumed++;
        return ConsumerStatus.ACK;
      });
      sub.on('error', (e) => log(`amqp ceiling consumer error: ${String(e)}`));
      await waitFor('the AMQP ceiling loop', () => consumed >= N, 300_000, 5);
      const amqpRate = N / ((performance.now() - amqpStart) / 1000);
      await sub.close();
      log(`amqp ceiling: ${Math.round(amqpRate)}/s`);

      // The worker: topology declared and N notifications waiting before it starts.
      const topo = createTopologyClient({ url: AMQP_URL, logger });
      await topo.apply(plan);
      await topo.close();
      await publishNotifications({ amqpUrl: AMQP_URL, exchange: plan.exchange.name, routingKey: pipeline.spec.source.routingKey, messages: messages('worker') });
      let delivered = 0;
      let other = 0;
      const worker = new Worker({
        pipeline,
        amqpUrl: AMQP_URL,
        logger,
        onOutcome: (e) => (e.outcome === 'delivered' ? delivered++ : other++),
      });
      const workerStart = performance.now();
      await worker.start();
      await waitFor('the worker to deliver every notification', () => delivered + other >= N, 300_000, 5);
      const workerRate = N / ((performance.now() - workerStart) / 1000);
      await worker.close();
      log(`worker: ${Math.round(workerRate)}/s (${other} not delivered)`);
      if (other > 0) throw new Error(`${other} notifications were not delivered by a merchant that always answers success`);

      const lower = Math.min(amqpRate, httpRate);
      // Both loops' work done one after the other in one process: the rate if nothing overlapped.
      const serial = 1 / (1 / amqpRate + 1 / httpRate);
      const ratio = workerRate / lower;
      return {
        results: {
          notifications: N,
          concurrency: CONCURRENCY,
          queueType: 'quorum',
          merchant: 'loopback, own process, HTTP 200 "success" at once',
          bodyBytes: Buffer.byteLength(body),
          workerPerSec: round(workerRate),
          amqpCeilingPerSec: round(amqpRate),
          httpCeilingPerSec: round(httpRate),
          publishConfirmedPerSec: round(publishRate),
          ratioToLowerCeiling: round(ratio, 3),
          ratioToAmqpCeiling: round(workerRate / amqpRate, 3),
          ratioToHttpCeiling: round(workerRate / httpRate, 3),
          serialBoundPerSec: round(serial),
          ratioToSerialBound: round(workerRate / serial, 3),
        },
        table: {
          columns: ['measurement', 'per second', 'worker / this'],
          rows: [
            ['Ladder worker (consume, POST, classify, ack)', round(workerRate), '1.00'],
            ['AMQP ceiling: bare consume-and-ack loop', round(amqpRate), (workerRate / amqpRate).toFixed(2)],
            ['HTTP ceiling: bare undici POST loop', round(httpRate), (workerRate / httpRate).toFixed(2)],
            ['both ceilings in series: 1 / (1/AMQP + 1/HTTP)', round(serial), (workerRate / serial).toFixed(2)],
            ['(publisher confirms, for reference)', round(publishRate), (workerRate / publishRate).toFixed(2)],
          ],
        },
        verdicts: [`worker at ${(ratio * 100).toFixed(0)} % of the lower ceiling (target ≥ 70 %): ${ratio >= 0.7 ? 'met' : 'NOT met'}`],
      };
    } finally {
      await deleteAll(rabbit, [ceilingQueue, ...plan.queues.map((q) => q.name)], [plan.exchange.name]);
      await rabbit.close();
      await merchant.stop();
    }
  },
};
