import { afterAll, describe, expect, test } from '@jest/globals';
import { silentLogger } from '../../src/common/index.js';
import {
  BrokerUnavailableError,
  createTopologyClient,
  ExchangeMissingError,
  TopologyConflictError,
  type TopologyClient,
} from '../../src/topology/index.js';
import { AMQP_URL, deleteTopology, planOf, testConnection, testPipeline, uniqueNamespace } from './support/amqp.js';

const conn = testConnection();
const clients: TopologyClient[] = [];
const cleanups: Array<() => Promise<unknown>> = [];

function client(url = AMQP_URL, connectTimeoutMs?: number): TopologyClient {
  const c = createTopologyClient({ url, logger: silentLogger(), ...(connectTimeoutMs !== undefined ? { connectTimeoutMs } : {}) });
  clients.push(c);
  return c;
}

afterAll(async () => {
  for (const c of cleanups) await c();
  for (const c of clients) await c.close();
  await conn.close();
});

function pipelineWithCleanup(opts: Parameters<typeof testPipeline>[1] = {}) {
  const p = testPipeline(uniqueNamespace(), opts);
  const plan = planOf(p);
  cleanups.push(() => deleteTopology(conn, plan));
  return { p, plan };
}

describe('TopologyClient.apply', () => {
  test('declares every planned queue with its arguments, and applying twice changes nothing', async () => {
    const { plan } = pipelineWithCleanup({ queues: 'quorum', ladder: ['200ms', '1s', '200ms'] });
    const topo = client();
    await topo.apply(plan);
    await topo.apply(plan);
    const states = await topo.inspect(plan.queues.map((q) => q.name));
    expect(states.map((s) => [s.name, s.exists])).toEqual(plan.queues.map((q) => [q.name, true]));
    expect(plan.queues.map((q) => q.name)).toEqual([plan.work, `${plan.rungPrefix}200ms`, `${plan.rungPrefix}1s`, plan.parked]);

    // Redeclaring with the planned arguments succeeds; with any other arguments the broker refuses,
    // which proves the arguments the adapter declared are exactly the planned ones.
    for (const q of plan.queues) {
      await expect(conn.queueDeclare({ queue: q.name, durable: true, arguments: q.arguments })).resolves.toMatchObject({ queue: q.name });
    }
    const rung = plan.queues.find((q) => q.role === 'rung')!;
    await expect(conn.queueDeclare({ queue: rung.name, durable: true, arguments: { ...rung.arguments, 'x-message-ttl': 999 } })).rejects.toMatchObject({ code: 'PRECONDITION_FAILED' });
  });

  test('binds the work queue to the source exchange with the routing key', async () => {
    const { plan } = pipelineWithCleanup();
    await client().apply(plan);
    const pub = conn.createPublisher({ confirm: true });
    await pub.send({ exchange: plan.exchange.name, routingKey: 'notify', mandatory: true }, 'hello');
    await pub.close();
    const m = await conn.basicGet({ queue: plan.work, noAck: true });
    expect(m?.body).toBe('hello');
  });

  test('a rung delivers into the work queue after its TTL (dead-letter through the default exchange)', async () => {
    const { plan } = pipelineWithCleanup({ ladder: ['300ms'] });
    await client().apply(plan);
    const pub = conn.createPublisher({ confirm: true });
    const sent = Date.now();
    await pub.send({ exchange: '', routingKey: plan.ladder[0]!, mandatory: true }, 'later');
    await pub.close();
    let got: unknown;
    const deadline = Date.now() + 5000;
    while (got === undefined && Date.now() < deadline) {
      got = (await conn.basicGet({ queue: plan.work, noAck: true }))?.body;
      if (got === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    expect(got).toBe('later');
    expect(Date.now() - sent).toBeGreaterThanOrEqual(290);
  });

  test('recreates a queue deleted by hand on the next apply', async () => {
    const { plan } = pipelineWithCleanup();
    const topo = client();
    await topo.apply(plan);
    await conn.queueDelete({ queue: plan.parked });
    expect((await topo.inspect([plan.parked]))[0]).toMatchObject({ exists: false });
    await topo.apply(plan);
    expect((await topo.inspect([plan.parked]))[0]).toMatchObject({ exists: true, messages: 0 });
  });

  test('reports a pre-existing queue with other arguments as a conflict and leaves it intact with its messages', async () => {
    const { plan } = pipelineWithCleanup({ queues: 'quorum' });
    // Someone created the work queue by hand as a classic queue and put messages in it.
    await conn.queueDeclare({ queue: plan.work, durable: true });
    const pub = conn.createPublisher({ confirm: true });
    for (let i = 0; i < 3; i++) await pub.send({ routingKey: plan.work }, `m${i}`);
    await pub.close();

    const topo = client();
    const err = await topo.apply(plan).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(TopologyConflictError);
    expect(err).toMatchObject({ code: 'LADDER_TOPOLOGY_CONFLICT', queue: plan.work, wanted: { 'x-queue-type': 'quorum' } });
    expect((err as TopologyConflictError).detail).toMatch(/x-queue-type/);
    expect((await topo.inspect([plan.work]))[0]).toMatchObject({ exists: true, messages: 3 });
  });

  test('with declare: false and no exchange, throws ExchangeMissingError and declares nothing', async () => {
    const { plan } = pipelineWithCleanup({ declareExchange: false });
    const topo = client();
    const err = await topo.apply(plan).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ExchangeMissingError);
    expect(err).toMatchObject({ code: 'LADDER_EXCHANGE_MISSING', exchange: plan.exchange.name });
    expect((await topo.inspect([plan.work]))[0]).toMatchObject({ exists: false });
  });

  test('with declare: false and an existing exchange, only checks it and declares the queues', async () => {
    const { plan } = pipelineWithCleanup({ declareExchange: false });
    await conn.exchangeDeclare({ exchange: plan.exchange.name, type: 'topic', durable: false });
    cleanups.push(() => conn.exchangeDelete({ exchange: plan.exchange.name }));
    const topo = client();
    await topo.apply(plan);
    expect((await topo.inspect([plan.work]))[0]).toMatchObject({ exists: true });
  });

  test('throws BrokerUnavailableError within a few seconds when nothing listens, without the password', async () => {
    const started = Date.now();
    const err = await client('amqp://guest:s3cret-pw@127.0.0.1:1', 1500).apply(planOf(testPipeline(uniqueNamespace(), {}))).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(BrokerUnavailableError);
    expect(err).toMatchObject({ code: 'LADDER_BROKER_UNAVAILABLE' });
    expect((err as Error).message).not.toContain('s3cret-pw');
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  test('a ladder change declares the new rungs and leaves the old ones', async () => {
    const ns = uniqueNamespace();
    const before = planOf(testPipeline(ns, { ladder: ['200ms', '400ms'] }));
    const after = planOf(testPipeline(ns, { ladder: ['400ms', '800ms'] }));
    cleanups.push(() => deleteTopology(conn, after, before.queues.map((q) => q.name)));
    const topo = client();
    await topo.apply(before);
    await topo.apply(after);
    const names = [`${before.rungPrefix}200ms`, `${before.rungPrefix}400ms`, `${before.rungPrefix}800ms`];
    expect((await topo.inspect(names)).map((s) => s.exists)).toEqual([true, true, true]);
  });
});

describe('TopologyClient.deleteIfEmpty and inspect', () => {
  test.each(['classic', 'quorum'] as const)('deletes an empty %s queue, keeps a non-empty one, and reports a missing one', async (type) => {
    const { plan } = pipelineWithCleanup({ queues: type });
    const topo = client();
    await topo.apply(plan);
    const pub = conn.createPublisher({ confirm: true });
    await pub.send({ routingKey: plan.parked }, 'keep me');
    await pub.close();

    expect(await topo.deleteIfEmpty(plan.ladder[0]!)).toBe('deleted');
    expect(await topo.deleteIfEmpty(plan.parked)).toBe('not-empty');
    expect(await topo.deleteIfEmpty(plan.ladder[0]!)).toBe('missing');
    const states = await topo.inspect([plan.ladder[0]!, plan.parked]);
    expect(states).toEqual([
      { name: plan.ladder[0], exists: false, messages: 0, consumers: 0 },
      { name: plan.parked, exists: true, messages: 1, consumers: 0 },
    ]);
  });
});
