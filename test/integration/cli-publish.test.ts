import { afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { BrokerFixture, ensureBuilt, runCli, suffix, tempDir } from './cli-helpers.js';

function pipelineYaml(o: { exchange: string; routingKey: string; target: string; durable?: boolean }): string {
  return `apiVersion: ladder.dev/v1alpha1
kind: NotifyPipeline
metadata: { name: pub-test }
spec:
  source: { exchange: ${o.exchange}, exchangeType: topic, durable: ${o.durable ?? false}, routingKey: ${o.routingKey} }
  retry: { ladder: [200ms, 400ms] }
  delivery:
    target: ${o.target}
    success: { preset: alipay }
`;
}

describe('ladder publish', () => {
  const teardown: Array<() => Promise<void>> = [];
  beforeAll(() => ensureBuilt());
  afterEach(async () => {
    for (const t of teardown.splice(0).reverse()) await t();
  });

  async function setup(target: string, bind = true) {
    const id = suffix();
    const broker = new BrokerFixture();
    teardown.push(() => broker.cleanup());
    const exchange = `ladder-test-${id}.ex`;
    const queue = `ladder-test-${id}.q`;
    await broker.exchange(exchange, 'topic', false);
    await broker.queue(queue, bind ? { exchange, routingKey: 'AliPaynotify' } : undefined);
    const tmp = await tempDir();
    teardown.push(() => tmp.remove());
    const file = await tmp.write('p.yaml', pipelineYaml({ exchange, routingKey: 'AliPaynotify', target }));
    return { broker, exchange, queue, file };
  }

  test('puts N confirmed, persistent messages with ids on the bound queue in the seed format (fromBody)', async () => {
    const { broker, queue, file } = await setup('{ fromBody: true }');
    const r = await runCli(['publish', '-f', file, '--count', '25', '--url', 'http://127.0.0.1:9/notify', '--header', 'trace=abc']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/25 confirmed, 0 unroutable/);
    expect(await broker.count(queue)).toBe(25);

    const ids = new Set<string>();
    for (let i = 0; i < 25; i++) {
      const m = await broker.rabbit.basicGet({ queue, noAck: true });
      if (m === undefined) throw new Error(`message ${i} missing`);
      expect(m.durable).toBe(true);
      expect(m.headers?.['trace']).toBe('abc');
      const body = Buffer.isBuffer(m.body) ? m.body.toString() : String(m.body);
      const url = new URL(body);
      expect(`${url.origin}${url.pathname}`).toBe('http://127.0.0.1:9/notify');
      expect(url.searchParams.get('trade_status')).toBe('TRADE_SUCCESS');
      expect(url.searchParams.get('out_trade_no')).toMatch(/^order-/);
      expect(url.searchParams.get('notify_id')).toBe(m.messageId);
      ids.add(String(m.messageId));
    }
    expect(ids.size).toBe(25);
  });

  test('puts the notify URL in the named header for a fromHeader target', async () => {
    const { broker, queue, file } = await setup('{ fromHeader: notify-url }');
    const r = await runCli(['publish', '-f', file, '--url', 'http://127.0.0.1:9/cb', '--rate', '50', '-n', '3']);
    expect(r.code).toBe(0);
    expect(await broker.count(queue)).toBe(3);
    const m = await broker.rabbit.basicGet({ queue, noAck: true });
    expect(m?.headers?.['notify-url']).toBe('http://127.0.0.1:9/cb');
    expect(m?.contentType).toBe('application/json');
    expect(JSON.parse(Buffer.isBuffer(m?.body) ? m.body.toString() : JSON.stringify(m?.body))).toMatchObject({ trade_state: 'SUCCESS' });
  });

  test('sends a literal --body as is', async () => {
    const { broker, queue, file } = await setup('{ fromBody: true }');
    const r = await runCli(['publish', '-f', file, '--body', 'http://127.0.0.1:9/x?out_trade_no=42']);
    expect(r.code).toBe(0);
    const m = await broker.rabbit.basicGet({ queue, noAck: true });
    expect(Buffer.isBuffer(m?.body) ? m.body.toString() : m?.body).toBe('http://127.0.0.1:9/x?out_trade_no=42');
  });

  test('exits 1 and counts unroutable messages when no queue is bound', async () => {
    const { file } = await setup('{ fromBody: true }', false);
    const r = await runCli(['publish', '-f', file, '-n', '2']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/0 confirmed, 2 unroutable/);
    expect(r.stderr).toMatch(/reached no queue/);
  });

  test('exits 1 naming the exchange when it does not exist', async () => {
    const tmp = await tempDir();
    teardown.push(() => tmp.remove());
    const file = await tmp.write('p.yaml', pipelineYaml({ exchange: `ladder-test-${suffix()}.absent`, routingKey: 'k', target: '{ fromBody: true }' }));
    const r = await runCli(['publish', '-f', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/exchange "ladder-test-[0-9a-f]+\.absent" does not exist/);
  });

  test('exits 1 without printing the password when the broker is unreachable', async () => {
    const tmp = await tempDir();
    teardown.push(() => tmp.remove());
    const file = await tmp.write('p.yaml', pipelineYaml({ exchange: 'x', routingKey: 'k', target: '{ fromBody: true }' }));
    const r = await runCli(['publish', '-f', file], { env: { AMQP_URL: 'amqp://guest:hunter2@127.0.0.1:1' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot reach RabbitMQ/);
    expect(r.stderr + r.stdout).not.toContain('hunter2');
  });

  test.each([
    [['--count', '0'], /--count must be a positive integer/],
    [['--url', 'http://a/', '--body', 'x'], /either --url or --body/],
    [['--header', 'novalue'], /--header must look like name=value/],
  ])('exits 2 on bad flags %j', async (flags, message) => {
    const tmp = await tempDir();
    teardown.push(() => tmp.remove());
    const file = await tmp.write('p.yaml', pipelineYaml({ exchange: 'x', routingKey: 'k', target: '{ fromBody: true }' }));
    const r = await runCli(['publish', '-f', file, ...flags]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
