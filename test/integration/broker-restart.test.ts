/**
 * Broker restart: a worker runs against a private RabbitMQ node; the node is stopped and started
 * mid-stream. Nothing is lost, and the worker reconnects, redeclares and resumes on its own.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { Connection } from 'rabbitmq-client';
import { createLogger } from '../../src/common/index.js';
import { HEADER, Worker, type OutcomeEvent } from '../../src/worker/index.js';
import { drainQueue, planOf, testPipeline, uniqueNamespace, waitFor } from './support/amqp.js';
import { answer, startMerchant, type Merchant } from './support/merchant.js';
import { createPrivateBroker, type PrivateBroker } from './support/private-broker.js';

const PER_BATCH = 400;
let broker: PrivateBroker;
let merchant: Merchant;
let conn: Connection | undefined;
let worker: Worker | undefined;
const attempts = new Map<string, number>();
const delivered = new Map<string, number>();

beforeAll(async () => {
  broker = await createPrivateBroker();
  await broker.start();
  merchant = await startMerchant((a, res) => {
    const id = String(a.headers['webhook-id']);
    const n = (attempts.get(id) ?? 0) + 1;
    attempts.set(id, n);
    // Slow enough that deliveries are in flight when the broker stops; flaky ones fail once.
    setTimeout(() => {
      if (a.path === '/flaky' && n === 1) return answer(res, 500, 'fail');
      if (a.path === '/dead') return answer(res, 500, 'fail');
      delivered.set(id, (delivered.get(id) ?? 0) + 1);
      answer(res, 200, 'success');
    }, 5);
  });
}, 60_000);

afterAll(async () => {
  await worker?.close();
  await conn?.close();
  await merchant?.close();
  broker?.destroy();
}, 60_000);

test('a broker stop and start mid-stream loses nothing; the worker reconnects and resumes by itself', async () => {
  const pipeline = testPipeline(uniqueNamespace('br'), { ladder: ['200ms', '400ms'], queues: 'quorum', concurrency: 32, timeout: '5s' });
  const plan = planOf(pipeline);
  const events: OutcomeEvent[] = [];
  const logs: string[] = [];
  worker = new Worker({ pipeline, amqpUrl: broker.url, logger: createLogger({ write: (l) => logs.push(l) }), onOutcome: (e) => events.push(e) });
  await worker.start();

  conn = new Connection({ url: broker.url, retryLow: 100, retryHigh: 500 });
  conn.on('error', () => {});
  const publish = async (tag: string) => {
    const pub = conn!.createPublisher({ confirm: true });
    const kinds = ['ok', 'ok', 'flaky', 'ok', 'dead'];
    const ids = Array.from({ length: PER_BATCH }, (_, i) => `${tag}-${i}`);
    await Promise.all(ids.map((id, i) => pub.send({ exchange: plan.exchange.name, routingKey: 'notify', durable: true, messageId: id }, Buffer.from(`${merchant.url}/${kinds[i % kinds.length]}?n=${i}`))));
    await pub.close();
    return ids;
  };

  const before = await publish('before');
  await waitFor('some deliveries done', () => delivered.size >= PER_BATCH / 4, 20_000);
  const stoppedAt = Date.now();
  broker.stop();
  await waitFor('worker sees the broker gone', () => !worker!.health().connected, 10_000);
  expect(worker.health().consuming).toBe(false);
  await broker.start();
  const upAt = Date.now();
  await waitFor('worker consuming again', () => worker!.health().consuming, 30_000, 50);
  const resumedMs = Date.now() - upAt;
  const after = await publish('after');

  // Every id ends delivered or parked (at least once).
  const parked = new Map<string, number>();
  const all = [...before, ...after];
  await waitFor('all settled', async () => {
    for (const m of await drainQueue(conn!, plan.parked)) {
      const id = String(m.headers[HEADER.id]);
      parked.set(id, (parked.get(id) ?? 0) + 1);
    }
    return all.every((id) => delivered.has(id) || parked.has(id));
  }, 40_000, 100);
  const lost = all.filter((id) => !delivered.has(id) && !parked.has(id));
  expect(lost).toEqual([]);
  expect(all.filter((id, i) => i % 5 === 4).every((id) => parked.has(id))).toBe(true); // dead ones parked
  expect(logs.some((l) => l.includes('rabbitmq connection error'))).toBe(true);
  expect(logs.join('\n')).not.toContain('guest:guest');
  const dups = [...delivered.values()].reduce((a, n) => a + n - 1, 0);
  process.stderr.write(`[broker restart] ${all.length} notifications, broker down ${upAt - stoppedAt} ms, worker consuming ${resumedMs} ms after the broker was back; 0 lost, ${dups} duplicate deliveries\n`);
}, 120_000);
