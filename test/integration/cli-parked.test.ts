/**
 * `ladder parked list|requeue` against the real RabbitMQ: the built CLI in a child process, parked
 * messages either written as a worker writes them or parked by a real Worker.
 */
import { afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import type { Publisher } from 'rabbitmq-client';
import { loadPipelineFile, type NotifyPipeline } from '../../src/api/index.js';
import { silentLogger } from '../../src/common/index.js';
import { createTopologyClient, planTopology, type TopologyPlan } from '../../src/topology/index.js';
import { BrokerFixture, ensureBuilt, runCli, suffix, tempDir } from './cli-helpers.js';
import { AMQP_URL, waitFor } from './support/amqp.js';
import { answer, closedPort, startMerchant } from './support/merchant.js';
import { runWorker } from './support/worker.js';

function pipelineYaml(namespace: string, ladder: string): string {
  return `apiVersion: ladder.dev/v1alpha1
kind: NotifyPipeline
metadata: { name: pk, namespace: ${namespace} }
spec:
  source: { exchange: ${namespace}.notify, exchangeType: topic, durable: false, routingKey: notify }
  retry: { ladder: [${ladder}] }
  delivery:
    target: { fromBody: true }
    timeout: 2s
    success: { preset: alipay }
    allowPrivateNetworks: true
  queues: { type: classic }
  workers: { replicas: 1, concurrency: 8 }
`;
}

const FIRST_SEEN = '2024-05-01T10:00:00.000Z';

/** The headers a worker writes when it parks a notification. */
function parkedHeaders(id: string, attempts = 1): Record<string, unknown> {
  return {
    'ladder-id': id,
    'ladder-attempt': attempts,
    'ladder-first-seen': FIRST_SEEN,
    'ladder-last-error': 'HTTP 500: fail',
    'ladder-parked-reason': `ladder exhausted after ${attempts} attempt(s)`,
    trace: 'keep-me',
  };
}

const text = (body: unknown): string => (Buffer.isBuffer(body) ? body.toString('utf8') : typeof body === 'string' ? body : JSON.stringify(body));

describe('ladder parked', () => {
  const teardown: Array<() => Promise<unknown>> = [];
  beforeAll(() => ensureBuilt());
  afterEach(async () => {
    for (const t of teardown.splice(0).reverse()) await t().catch(() => {});
  });

  /** A unique pipeline file; with `declare`, its topology applied (and deleted afterwards). */
  async function setup(o: { declare?: boolean; ladder?: string } = {}) {
    const namespace = `pk-${suffix()}`;
    const broker = new BrokerFixture();
    teardown.push(() => broker.cleanup());
    const tmp = await tempDir();
    teardown.push(() => tmp.remove());
    const file = await tmp.write('p.yaml', pipelineYaml(namespace, o.ladder ?? '200ms'));
    const pipeline: NotifyPipeline = (await loadPipelineFile(file))[0]!;
    const plan: TopologyPlan = planTopology({ namespace, name: 'pk' }, pipeline.spec);
    broker.track(...plan.queues.map((q) => q.name));
    teardown.push(() => broker.rabbit.exchangeDelete({ exchange: plan.exchange.name }).catch(() => {}));
    if (o.declare ?? true) {
      const topo = createTopologyClient({ url: AMQP_URL, logger: silentLogger() });
      await topo.apply(plan);
      await topo.close();
    } else {
      await broker.rabbit.queueDeclare({ queue: plan.parked, durable: true });
    }
    const pub: Publisher = broker.rabbit.createPublisher({ confirm: true });
    teardown.push(() => pub.close());
    /** Put one message on the parking queue as a worker would. */
    const park = (id: string, body: string, props: { contentType?: string; attempts?: number } = {}) =>
      pub.send(
        { exchange: '', routingKey: plan.parked, mandatory: true, durable: true, messageId: id, headers: parkedHeaders(id, props.attempts), ...(props.contentType ? { contentType: props.contentType } : {}) },
        Buffer.from(body),
      );
    return { namespace, broker, file, pipeline, plan, park, tmp };
  }

  test('list shows each parked notification and leaves the queue as it was', async () => {
    const { broker, file, plan, park } = await setup();
    await park('ntf-a', 'http://127.0.0.1:9/notify?notify_id=ntf-a', { contentType: 'text/plain', attempts: 2 });
    await park('ntf-b', `http://127.0.0.1:9/notify?notify_id=ntf-b&pad=${'x'.repeat(200)}`);
    await park('ntf-c', '{"out_trade_no":"42","trade_status":"TRADE_SUCCESS"}', { contentType: 'application/json' });

    const r = await runCli(['parked', '-f', file, 'list']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe(`ntf-a  attempts=2  first-seen=${FIRST_SEEN}  reason="ladder exhausted after 2 attempt(s)"  body="http://127.0.0.1:9/notify?notify_id=ntf-a"`);
    // Long bodies are cut to 80 characters.
    expect(lines[1]).toContain(`body="${`http://127.0.0.1:9/notify?notify_id=ntf-b&pad=${'x'.repeat(200)}`.slice(0, 80)}…"`);
    expect(lines[2]).toContain('body="{\\"out_trade_no\\":\\"42\\",\\"trade_status\\":\\"TRADE_SUCCESS\\"}"');
    expect(lines[3]).toBe(`3 parked in ${plan.parked}`);
    // Nothing was consumed: every message is ready again, none left unacked with a consumer.
    await waitFor('parked depth back to 3', async () => (await broker.count(plan.parked)) === 3);

    const j = await runCli(['parked', '-f', file, 'list', '--json', '--limit', '2']);
    expect(j.code).toBe(0);
    const objs = j.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(objs).toEqual([
      expect.objectContaining({ id: 'ntf-a', attempts: 2, firstSeen: FIRST_SEEN, reason: 'ladder exhausted after 2 attempt(s)', lastError: 'HTTP 500: fail' }),
      expect.objectContaining({ id: 'ntf-b', attempts: 1 }),
      { queue: plan.parked, depth: 3, listed: 2 },
    ]);
    await waitFor('parked depth still 3', async () => (await broker.count(plan.parked)) === 3);
    // And in the same order as before.
    const after = [];
    for (let m = await broker.rabbit.basicGet({ queue: plan.parked, noAck: true }); m !== undefined; m = await broker.rabbit.basicGet({ queue: plan.parked, noAck: true })) after.push(m.messageId);
    expect(after).toEqual(['ntf-a', 'ntf-b', 'ntf-c']);
  });

  test('requeue --id moves only that notification, with fresh bookkeeping, and leaves the others parked untouched', async () => {
    const { broker, file, plan, park } = await setup();
    await park('ntf-1', 'http://127.0.0.1:9/notify?notify_id=ntf-1', { contentType: 'text/plain', attempts: 3 });
    await park('ntf-2', '{"a":1,"b":"two"}', { contentType: 'application/json', attempts: 3 });
    await park('ntf-3', 'raw-bytes-body', { attempts: 3 });

    const r = await runCli(['parked', '-f', file, 'requeue', '--id', 'ntf-2']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('requeued 1 notification(s)');
    await waitFor('one message on the work queue', async () => (await broker.count(plan.work)) === 1);
    await waitFor('two left parked', async () => (await broker.count(plan.parked)) === 2);

    // Read the raw bytes: a publisher-side re-encoding of the JSON body must be byte-identical.
    const m = await broker.rabbit.basicGet({ queue: plan.work, noAck: true });
    expect(m?.messageId).toBe('ntf-2');
    expect(m?.contentType).toBe('application/json');
    expect(text(m?.body)).toBe('{"a":1,"b":"two"}');
    expect(m?.durable).toBe(true);
    const h = m?.headers ?? {};
    expect(h['ladder-id']).toBe('ntf-2');
    expect(h['ladder-attempt']).toBe(0);
    expect(h['ladder-first-seen']).toBe(FIRST_SEEN);
    expect(h['ladder-parked-reason']).toBeUndefined();
    expect(h['trace']).toBe('keep-me');
    expect(Date.parse(String(h['ladder-requeued-at']))).toBeGreaterThan(Date.now() - 60_000);

    // Look without consuming: unacked gets on a channel of our own, given back when it closes.
    const ch = await broker.rabbit.acquire();
    const rest = [];
    for (let p = await ch.basicGet({ queue: plan.parked, noAck: false }); p !== undefined; p = await ch.basicGet({ queue: plan.parked, noAck: false })) rest.push(p);
    expect(rest.map((p) => p.messageId)).toEqual(['ntf-1', 'ntf-3']);
    for (const p of rest) {
      expect(p.headers?.['ladder-attempt']).toBe(3);
      expect(p.headers?.['ladder-parked-reason']).toBe('ladder exhausted after 3 attempt(s)');
      expect(p.headers?.['ladder-requeued-at']).toBeUndefined();
    }
    expect(text(rest[1]?.body)).toBe('raw-bytes-body');
    await ch.close();

    // An id that is not parked: reported, exit 1, nothing moves.
    const miss = await runCli(['parked', '-f', file, 'requeue', '--id', 'ntf-2']);
    expect(miss.code).toBe(1);
    expect(miss.stderr).toContain('not found');
    expect(miss.stdout).toContain('requeued 0');
    await waitFor('still two parked', async () => (await broker.count(plan.parked)) === 2);
    expect(await broker.count(plan.work)).toBe(0);
  });

  test('requeue with a worker running delivers every parked notification once the merchant recovers', async () => {
    const { broker, file, pipeline, plan } = await setup({ ladder: '50ms' });
    let healthy = false;
    const merchant = await startMerchant((_a, res) => (healthy ? answer(res, 200, 'success') : answer(res, 500, 'fail')));
    teardown.push(() => merchant.close());
    const w = await runWorker(broker.rabbit, pipeline, teardown);

    // Park them for real: attempt 1 fails, the 50 ms rung, attempt 2 fails, parked.
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await w.publish(`${merchant.url}/notify?notify_id=n${i}`, { contentType: 'text/plain' }));
    for (const id of ids) await w.until(id, (ev) => ev.some((e) => e.outcome === 'parked'));
    await waitFor('five parked', async () => (await broker.count(plan.parked)) === 5);

    healthy = true;
    const r = await runCli(['parked', '-f', file, 'requeue']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('requeued 5 notification(s)');
    for (const id of ids) {
      const ev = await w.until(id, (e) => e.some((x) => x.outcome === 'delivered'));
      // A fresh climb: the first attempt after the requeue is attempt 1 again.
      expect(ev.find((x) => x.outcome === 'delivered')?.attempt).toBe(1);
    }
    expect(await broker.count(plan.parked)).toBe(0);
    expect(await broker.count(plan.work)).toBe(0);
  });

  test('requeue leaves the message parked and exits 1 when the work queue is gone (the publish is returned)', async () => {
    const { broker, file, plan, park } = await setup({ declare: false });
    await park('ntf-x', 'http://127.0.0.1:9/notify');
    const r = await runCli(['parked', '-f', file, 'requeue']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('requeued 0');
    expect(r.stderr).toContain('ntf-x stayed parked');
    expect(r.stderr).toContain('returned');
    await waitFor('still parked', async () => (await broker.count(plan.parked)) === 1);
  });

  test('a pipeline whose parking queue does not exist exits 1 and says so', async () => {
    const tmp = await tempDir();
    teardown.push(() => tmp.remove());
    const namespace = `pk-${suffix()}`;
    const file = await tmp.write('p.yaml', pipelineYaml(namespace, '200ms'));
    const r = await runCli(['parked', '-f', file, 'list']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`queue ladder.${namespace}.pk.parked does not exist`);
  });

  test('a bad file or bad flags exit 2', async () => {
    const tmp = await tempDir();
    teardown.push(() => tmp.remove());
    const bad = await tmp.write('bad.yaml', 'apiVersion: ladder.dev/v1alpha1\nkind: NotifyPipeline\nmetadata: { name: x }\nspec: { retry: { ladder: [soon] } }\n');
    const good = await tmp.write('good.yaml', pipelineYaml(`pk-${suffix()}`, '200ms'));
    const cases: string[][] = [
      ['parked', '-f', bad, 'list'],
      ['parked', '-f', `${tmp.dir}/missing.yaml`, 'list'],
      ['parked', '-f', good],
      ['parked', '-f', good, 'drop'],
      ['parked', '-f', good, 'list', '--limit', '0'],
      ['parked', '-f', good, 'list', '--id', 'x'],
      ['parked', '-f', good, 'requeue', '--pipeline', 'nope'],
      ['parked', 'list'],
    ];
    for (const args of cases) {
      const r = await runCli(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
    }
  });

  test('an unreachable broker exits 1 without printing the password', async () => {
    const tmp = await tempDir();
    teardown.push(() => tmp.remove());
    const file = await tmp.write('p.yaml', pipelineYaml(`pk-${suffix()}`, '200ms'));
    const port = await closedPort();
    const env = { AMQP_URL: `amqp://guest:pw-s3cret-42@127.0.0.1:${port}` };
    // In parallel: each waits out the 5 s connect timeout.
    const results = await Promise.all(['list', 'requeue'].map((action) => runCli(['parked', '-f', file, action], { env })));
    for (const r of results) {
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('unavailable');
      expect(r.stderr).toContain('guest:***@');
      expect(r.stdout + r.stderr).not.toContain('pw-s3cret-42');
    }
  });
});
