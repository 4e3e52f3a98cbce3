import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { parse } from 'yaml';
import { ensureBuilt, runCli, tempDir } from './cli-helpers.js';

const good = `apiVersion: ladder.dev/v1alpha1
kind: NotifyPipeline
metadata: { name: alipay, namespace: payments }
spec:
  source: { exchange: notifyExchange, exchangeType: topic, durable: false, routingKey: AliPaynotify }
  retry: { ladder: [3s, 30s, 3s] }
  delivery: { target: { fromBody: true }, success: { preset: alipay } }
`;

describe('ladder validate', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    ensureBuilt();
    tmp = await tempDir();
  });
  afterAll(() => tmp.remove());

  test('prints the planned topology of a valid file and exits 0', async () => {
    const r = await runCli(['validate', '-f', await tmp.write('good.yaml', good)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^# payments\/alipay: valid\n/);
    const plan = parse(r.stdout.split('---')[0]!.replace(/^#.*\n/, ''));
    expect(plan.queues.map((q: { name: string }) => q.name)).toEqual([
      'ladder.payments.alipay.work',
      'ladder.payments.alipay.delay.3s',
      'ladder.payments.alipay.delay.30s',
      'ladder.payments.alipay.parked',
    ]);
    expect(plan.bindings).toEqual([{ exchange: 'notifyExchange', queue: 'ladder.payments.alipay.work', routingKey: 'AliPaynotify' }]);
    expect(plan.ladder).toEqual(['ladder.payments.alipay.delay.3s', 'ladder.payments.alipay.delay.30s', 'ladder.payments.alipay.delay.3s']);
  });

  test('exits 2 naming the field path and the problem of an invalid file', async () => {
    const bad = good.replace('[3s, 30s, 3s]', '[3s, 30s, 5 minutes]').replace('preset: alipay', 'preset: paypal');
    const r = await runCli(['validate', '-f', await tmp.write('bad.yaml', bad)]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('bad.yaml is not a valid NotifyPipeline:');
    expect(r.stderr).toContain('spec.retry.ladder[2]: "5 minutes" is not a duration like 5m');
    expect(r.stderr).toContain('spec.delivery.success.preset: Invalid option');
  });

  test('exits 2 on a YAML syntax error', async () => {
    const r = await runCli(['validate', '-f', await tmp.write('syntax.yaml', 'kind: [unclosed\n')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/line \d+/);
  });

  test('exits 2 on a missing file', async () => {
    const r = await runCli(['validate', '-f', `${tmp.dir}/nope.yaml`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nope\.yaml is not a valid NotifyPipeline:\n\s+\(file\): cannot be read: .*ENOENT/);
  });

  test('exits 2 without -f', async () => {
    const r = await runCli(['validate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('-f FILE is required');
  });
});
