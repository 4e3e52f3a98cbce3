import { afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { BrokerFixture, ensureBuilt, runCli } from './cli-helpers.js';

const QUEUE_SUFFIXES = ['work', 'delay.1s', 'delay.2s', 'delay.4s', 'parked'];

function namespaceOf(stdout: string): string {
  const m = /pipeline (demo-[0-9a-f]+)\/demo/.exec(stdout);
  if (m === null) throw new Error(`no demo namespace in output:\n${stdout}`);
  return m[1]!;
}

describe('ladder demo (npm start)', () => {
  const teardown: Array<() => Promise<void>> = [];
  beforeAll(() => ensureBuilt());
  afterEach(async () => {
    for (const t of teardown.splice(0).reverse()) await t();
  });

  test('delivers, retries and parks, prints a line per attempt and a summary, removes its queues and exits 0', async () => {
    const broker = new BrokerFixture();
    teardown.push(() => broker.cleanup());
    const r = await runCli(['demo'], { timeoutMs: 45_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const ns = namespaceOf(r.stdout);
    const queues = QUEUE_SUFFIXES.map((s) => `ladder.${ns}.demo.${s}`);
    broker.track(...queues); // removed by teardown should the demo have left any
    expect(r.stdout).toMatch(/order-1\s+attempt 1\s+✓ delivered \(HTTP 200\)/);
    expect(r.stdout).toMatch(/order-2\s+attempt 1\s+✗ HTTP 200 "fail" is not a success\s+→ retry in 1s/);
    expect(r.stdout).toMatch(/order-3\s+attempt 2\s+✗ .*→ retry in 2s/);
    expect(r.stdout).toMatch(/order-3\s+attempt 3\s+✓ delivered/);
    expect(r.stdout).toMatch(/order-5\s+attempt 4\s+✗ HTTP 200 "fail" is not a success\s+→ parked after 4 attempts/);
    expect(r.stdout).toMatch(/Summary: 6 notifications, 5 delivered, 1 parked, 14 attempts/);
    expect(r.stdout).toMatch(/Cleaned up/);
    for (const q of queues) await expect(broker.rabbit.queueDeclare({ queue: q, passive: true })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  test('--keep leaves the queues, with the parked notification and its ladder headers', async () => {
    const broker = new BrokerFixture();
    teardown.push(() => broker.cleanup());
    const r = await runCli(['demo', '--keep', '--count', '5'], { timeoutMs: 45_000 });
    const ns = namespaceOf(r.stdout);
    const queues = QUEUE_SUFFIXES.map((s) => `ladder.${ns}.demo.${s}`);
    broker.track(...queues);
    broker.trackExchange(`ladder.demo.${ns.slice('demo-'.length)}`); // the demo's own exchange, kept too
    expect(r.stdout).toContain(`exchange ladder.demo.${ns.slice('demo-'.length)} (--keep)`);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Summary: 5 notifications, 4 delivered, 1 parked/);
    expect(await broker.count(`ladder.${ns}.demo.work`)).toBe(0);
    expect(await broker.count(`ladder.${ns}.demo.parked`)).toBe(1);
    const parked = await broker.rabbit.basicGet({ queue: `ladder.${ns}.demo.parked`, noAck: true });
    expect(parked?.headers).toMatchObject({ 'ladder-attempt': 4, 'ladder-parked-reason': expect.stringContaining('"fail"') });
  });

  test('exits 1 with a clear message when RabbitMQ is unreachable, without printing the password', async () => {
    const r = await runCli(['demo'], { env: { AMQP_URL: 'amqp://guest:hunter2@127.0.0.1:1' }, timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ladder demo: the worker could not start/);
    expect(r.stdout + r.stderr).not.toContain('hunter2');
  });
});
