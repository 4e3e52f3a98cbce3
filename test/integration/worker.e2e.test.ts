import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { Webhook } from 'standardwebhooks';
import { HEADER } from '../../src/worker/index.js';
import { drainQueue, testConnection, testPipeline, uniqueNamespace, waitFor } from './support/amqp.js';
import { answer, startMerchant, type Merchant } from './support/merchant.js';
import { runTeardown, runWorker } from './support/worker.js';

const conn = testConnection();
const teardown: Array<() => Promise<unknown>> = [];
let merchant: Merchant;
/** Per path: how many times to fail before answering success (alipay style). */
const failuresLeft = new Map<string, number>();

beforeAll(async () => {
  merchant = await startMerchant((a, res) => {
    const key = `${a.path}?${a.headers['webhook-id']}`;
    const left = failuresLeft.get(key) ?? (a.path === '/dead' ? Infinity : 0);
    if (left > 0) {
      failuresLeft.set(key, left - 1);
      return answer(res, 200, 'fail');
    }
    answer(res, 200, 'success');
  });
});
afterEach(() => runTeardown(teardown));
afterAll(async () => {
  await merchant.close();
  await conn.close();
});

describe('Worker end to end (real RabbitMQ, real HTTP merchant)', () => {
  test('delivers the seed format first time: a form POST to the notify URL, with webhook headers', async () => {
    const w = await runWorker(conn, testPipeline(uniqueNamespace(), {}), teardown);
    const id = await w.publish(`${merchant.url}/ok?out_trade_no=A1&trade_status=TRADE_SUCCESS`);
    const [e] = await w.until(id, (es) => es.length === 1);
    expect(e).toMatchObject({ id, attempt: 1, outcome: 'delivered', status: 200 });
    const a = merchant.arrivals.find((x) => x.headers['webhook-id'] === id)!;
    expect(a.method).toBe('POST');
    expect(a.path).toBe('/ok');
    expect(a.query).toBe('');
    expect(a.body.toString()).toBe('out_trade_no=A1&trade_status=TRADE_SUCCESS');
    expect(a.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(a.headers['user-agent']).toBe('ladder/0.1.0');
    expect(Math.abs(Number(a.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(5);
    expect(a.headers['webhook-signature']).toBeUndefined();
    // One structured log line per attempt, without the AMQP password or the query string.
    const line = w.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['msg'] === 'attempt' && l['id'] === id);
    expect(line).toMatchObject({ level: 'info', id, attempt: 1, outcome: 'delivered', status: 200, target: `${merchant.url}/ok` });
    expect(typeof line?.['latencyMs']).toBe('number');
    expect(w.logs.join('\n')).not.toContain('guest:guest');
    expect(w.logs.join('\n')).not.toContain('TRADE_SUCCESS');
    // Nothing left behind.
    expect((await conn.queueDeclare({ queue: w.plan.work, passive: true })).messageCount).toBe(0);
  });

  test('retries on the ladder and delivers on the third attempt, never early and at most 300 ms late', async () => {
    const w = await runWorker(conn, testPipeline(uniqueNamespace(), { ladder: ['200ms', '400ms'] }), teardown);
    const id = 'flaky-' + Date.now();
    failuresLeft.set(`/flaky?${id}`, 2);
    await w.publish(`${merchant.url}/flaky?n=1`, { messageId: id });
    const es = await w.until(id, (x) => x.some((e) => e.outcome === 'delivered'));
    expect(es.map((e) => [e.attempt, e.outcome, e.queue])).toEqual([
      [1, 'retry', w.plan.ladder[0]],
      [2, 'retry', w.plan.ladder[1]],
      [3, 'delivered', undefined],
    ]);
    const at = merchant.arrivals.filter((a) => a.headers['webhook-id'] === id).map((a) => a.at);
    expect(at).toHaveLength(3);
    const gaps = [at[1]! - at[0]!, at[2]! - at[1]!];
    expect(gaps[0]).toBeGreaterThanOrEqual(200);
    expect(gaps[0]).toBeLessThanOrEqual(200 + 300);
    expect(gaps[1]).toBeGreaterThanOrEqual(400);
    expect(gaps[1]).toBeLessThanOrEqual(400 + 300);
  });

  test('parks after the last rung, keeping body, properties and producer headers, with our bookkeeping', async () => {
    const w = await runWorker(conn, testPipeline(uniqueNamespace(), { ladder: ['200ms', '400ms'] }), teardown);
    const id = await w.publish(`${merchant.url}/dead?order=9`, { headers: { tenant: 'acme' }, contentType: 'text/plain' });
    const es = await w.until(id, (x) => x.some((e) => e.outcome === 'parked'));
    expect(es.map((e) => e.outcome)).toEqual(['retry', 'retry', 'parked']);
    const parked = await waitFor('parked message', async () => {
      const ms = await drainQueue(conn, w.plan.parked);
      return ms.length > 0 ? ms : undefined;
    });
    expect(parked).toHaveLength(1);
    const m = parked[0]!;
    expect(m.body).toBe(`${merchant.url}/dead?order=9`);
    expect(m.contentType).toBe('text/plain');
    expect(m.messageId).toBe(id);
    expect(m.headers).toMatchObject({ tenant: 'acme', [HEADER.id]: id, [HEADER.attempt]: 3, [HEADER.lastError]: 'HTTP 200 "fail" is not a success' });
    expect(String(m.headers[HEADER.parkedReason])).toMatch(/after 3 attempts/);
    expect(Date.parse(String(m.headers[HEADER.firstSeen]))).toBeGreaterThan(Date.now() - 60_000);
    expect(Object.keys(m.headers).filter((k) => k.startsWith('x-death'))).toEqual([]);
  });

  test('fromHeader: posts the message body as is to the URL in the header', async () => {
    const w = await runWorker(conn, testPipeline(uniqueNamespace(), { target: { fromHeader: 'notify-url' } }), teardown);
    const id = await w.publish('{"out_trade_no":"B2"}', { headers: { 'notify-url': `${merchant.url}/hdr?x=1` }, contentType: 'application/json' });
    await w.until(id, (x) => x.length === 1 && x[0]!.outcome === 'delivered');
    const a = merchant.arrivals.find((x) => x.headers['webhook-id'] === id)!;
    expect([a.path, a.query, a.body.toString(), a.headers['content-type']]).toEqual(['/hdr', 'x=1', '{"out_trade_no":"B2"}', 'application/json']);
  });

  test('a message without a usable target is parked at once with the reason', async () => {
    const w = await runWorker(conn, testPipeline(uniqueNamespace(), { target: { fromHeader: 'notify-url' } }), teardown);
    const noHeader = await w.publish('x');
    const badUrl = await w.publish('x', { headers: { 'notify-url': 'gopher://nope' } });
    for (const id of [noHeader, badUrl]) {
      const [e] = await w.until(id, (x) => x.length === 1);
      expect(e).toMatchObject({ attempt: 1, outcome: 'parked', queue: w.plan.parked });
    }
    const parked = await waitFor('2 parked', async () => {
      const all: Awaited<ReturnType<typeof drainQueue>> = [];
      await waitFor('drain', async () => { all.push(...(await drainQueue(conn, w.plan.parked))); return all.length >= 2; });
      return all;
    });
    expect(parked.map((m) => String(m.headers[HEADER.parkedReason])).sort()).toEqual([
      expect.stringMatching(/gopher:\/\/nope.* not an http\(s\) URL/),
      expect.stringMatching(/no "notify-url" header/),
    ].sort());
  });

  test('the default SSRF guard parks callbacks to 127.0.0.1 and to localhost without connecting', async () => {
    const w = await runWorker(conn, testPipeline(uniqueNamespace(), { allowPrivateNetworks: false }), teardown);
    const literal = await w.publish(`${merchant.url}/ok?a=1`);
    const byName = await w.publish(`http://localhost:${merchant.port}/ok?a=2`);
    for (const id of [literal, byName]) {
      const [e] = await w.until(id, (x) => x.length === 1);
      expect(e).toMatchObject({ attempt: 1, outcome: 'parked' });
      expect(e!.error).toMatch(/SSRF guard: (127\.0\.0\.1|::1) is a loopback address/);
      expect(merchant.arrivals.some((a) => a.headers['webhook-id'] === id)).toBe(false);
    }
  });

  test('signs each request; the standardwebhooks package verifies it', async () => {
    const secret = 'whsec_' + Buffer.from('a-test-signing-key-of-32-bytes!!').toString('base64');
    const w = await runWorker(conn, testPipeline(uniqueNamespace(), {}), teardown, { signingSecret: secret });
    const id = await w.publish(`${merchant.url}/ok?out_trade_no=S1&total_amount=1.00`);
    await w.until(id, (x) => x.length === 1);
    const a = merchant.arrivals.find((x) => x.headers['webhook-id'] === id)!;
    const headers = Object.fromEntries(Object.entries(a.headers).map(([k, v]) => [k, String(v)]));
    expect(() => new Webhook(secret).verify(a.body, headers, { jsonParse: false })).not.toThrow();
    expect(() => new Webhook('whsec_' + Buffer.from('another-key-another-key-another!!').toString('base64')).verify(a.body, headers, { jsonParse: false })).toThrow();
    expect(w.logs.join('\n')).not.toContain(secret.slice(6));
  });

  test('a rung deleted by hand: the republish is returned, not acked, the rung is redeclared, and the message retried', async () => {
    const w = await runWorker(conn, testPipeline(uniqueNamespace(), { ladder: ['200ms'] }), teardown, { requeueDelayMs: 100 });
    // A first retry opens the worker's publishing channel (which declares the rungs when it opens).
    const warmup = 'warmup-' + Date.now();
    failuresLeft.set(`/flaky?${warmup}`, 1);
    await w.publish(`${merchant.url}/flaky`, { messageId: warmup });
    await w.until(warmup, (x) => x.some((e) => e.outcome === 'delivered'));
    await conn.queueDelete({ queue: w.plan.ladder[0]! });
    const id = 'returned-' + Date.now();
    failuresLeft.set(`/flaky?${id}`, 1);
    await w.publish(`${merchant.url}/flaky`, { messageId: id });
    const es = await w.until(id, (x) => x.some((e) => e.outcome === 'delivered'));
    // The returned republish produced no outcome: the message went back to the work queue and
    // its redelivery (still attempt 1) reached the merchant, which now answers success.
    expect(es.map((e) => [e.attempt, e.outcome])).toEqual([[1, 'delivered']]);
    expect(merchant.arrivals.filter((a) => a.headers['webhook-id'] === id)).toHaveLength(2);
    expect(w.logs.some((l) => l.includes('republish returned by the broker'))).toBe(true);
    expect(w.logs.some((l) => l.includes('"outcome":"requeued"'))).toBe(true);
    expect((await conn.queueDeclare({ queue: w.plan.ladder[0]!, passive: true })).queue).toBe(w.plan.ladder[0]);
  });

  test('health reports consuming while running and not after close; close waits for an in-flight delivery', async () => {
    let release: (() => void) | undefined;
    const slow = await startMerchant((_a, res) => { release = () => answer(res, 200, 'success'); });
    teardown.push(() => slow.close());
    const w = await runWorker(conn, testPipeline(uniqueNamespace(), { timeout: '5s' }), teardown);
    expect(w.worker.health()).toEqual({ connected: true, consuming: true, inFlight: 0 });
    const id = await w.publish(`${slow.url}/slow?a=1`);
    await waitFor('in flight at the merchant', () => w.worker.health().inFlight === 1 && release !== undefined);
    const closing = w.worker.close();
    await waitFor('stopped consuming', () => !w.worker.health().consuming);
    release!();
    await closing;
    expect(w.events).toEqual([expect.objectContaining({ id, outcome: 'delivered' })]);
    expect(w.worker.health()).toMatchObject({ consuming: false, inFlight: 0 });
  });
});

describe('Worker start-up against an existing topology', () => {
  test('with declareTopology: false it consumes a topology declared by someone else (the operator)', async () => {
    const { createTopologyClient } = await import('../../src/topology/index.js');
    const { silentLogger } = await import('../../src/common/index.js');
    const { AMQP_URL, planOf } = await import('./support/amqp.js');
    const p = testPipeline(uniqueNamespace(), {});
    const topo = createTopologyClient({ url: AMQP_URL, logger: silentLogger() });
    await topo.apply(planOf(p));
    await topo.close();
    const w = await runWorker(conn, p, teardown, { declareTopology: false });
    const id = await w.publish(`${merchant.url}/ok?a=1`);
    await w.until(id, (x) => x.length === 1 && x[0]!.outcome === 'delivered');
  });

  test('a conflicting work queue makes start() reject with TopologyConflictError and leaves the queue alone', async () => {
    const { TopologyConflictError } = await import('../../src/topology/index.js');
    const { Worker } = await import('../../src/worker/index.js');
    const { silentLogger } = await import('../../src/common/index.js');
    const { AMQP_URL, planOf, deleteTopology } = await import('./support/amqp.js');
    const p = testPipeline(uniqueNamespace(), { queues: 'quorum' });
    const plan = planOf(p);
    teardown.push(() => deleteTopology(conn, plan));
    await conn.queueDeclare({ queue: plan.work, durable: true, arguments: { 'x-max-length': 10 } });
    const worker = new Worker({ pipeline: p, amqpUrl: AMQP_URL, logger: silentLogger() });
    await expect(worker.start()).rejects.toBeInstanceOf(TopologyConflictError);
    expect(worker.health()).toMatchObject({ connected: false, consuming: false });
    expect((await conn.queueDeclare({ queue: plan.work, passive: true })).queue).toBe(plan.work);
  });
});
