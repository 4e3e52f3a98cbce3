import { beforeAll, describe, expect, test } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadPipelineFile } from '../../src/api/index.js';
import { planTopology } from '../../src/topology/index.js';
import { ensureBuilt, ROOT, runCli } from './cli-helpers.js';

const DIR = join(ROOT, 'examples');
const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();
const holdsPipeline = (f: string) => parseAllDocuments(readFileSync(join(DIR, f), 'utf8')).some((d) => (d.toJS() as { kind?: string } | null)?.kind === 'NotifyPipeline');

describe('examples/', () => {
  beforeAll(() => ensureBuilt());

  test('has the documented examples', () => {
    expect(files).toEqual(expect.arrayContaining(['seed-alipay.yaml', 'alipay.yaml', 'wechatpay-v3.yaml', 'demo.yaml', 'rabbitmq-secret.yaml']));
  });

  test.each(files.filter(holdsPipeline))('ladder validate -f examples/%s exits 0', async (f) => {
    const r = await runCli(['validate', '-f', join(DIR, f)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  test.each(files.filter((f) => !holdsPipeline(f)))('examples/%s is a Secret with an AMQP URI', (f) => {
    const docs = parseAllDocuments(readFileSync(join(DIR, f), 'utf8')).map((d) => d.toJS() as { kind: string; stringData: { uri: string } });
    expect(docs).toEqual([expect.objectContaining({ apiVersion: 'v1', kind: 'Secret' })]);
    expect(docs[0]!.stringData.uri).toMatch(/^amqps?:\/\//);
  });

  test("seed-alipay.yaml matches the seed's Java producer contract", async () => {
    const [p] = await loadPipelineFile(join(DIR, 'seed-alipay.yaml'));
    expect(p!.spec.source).toEqual({ exchange: 'notifyExchange', exchangeType: 'topic', durable: false, declare: true, routingKey: 'AliPaynotify' });
    expect(p!.spec.retry.ladder).toEqual(['3s', '30s', '1m', '2m', '3m', '5m']);
    expect(p!.spec.delivery.target).toEqual({ fromBody: true });
    expect(p!.spec.delivery.success).toEqual({ preset: 'alipay' });
  });

  test("alipay.yaml uses Alipay's schedule; its two 10m attempts share one rung", async () => {
    const [p] = await loadPipelineFile(join(DIR, 'alipay.yaml'));
    expect(p!.spec.retry.ladder).toEqual(['4m', '10m', '10m', '1h', '2h', '6h', '15h']);
    expect(p!.spec.delivery).toMatchObject({ target: { fromBody: true }, success: { preset: 'alipay' } });
    const plan = planTopology(p!.metadata, p!.spec);
    expect(plan.queues.filter((q) => q.role === 'rung')).toHaveLength(6);
  });

  test("wechatpay-v3.yaml uses WeChat Pay's schedule, its preset and signing", async () => {
    const [p] = await loadPipelineFile(join(DIR, 'wechatpay-v3.yaml'));
    expect(p!.spec.retry.ladder).toEqual(['15s', '15s', '30s', '3m', '10m', '20m', '30m', '30m', '30m', '1h', '3h', '3h', '3h', '6h', '6h']);
    expect(p!.spec.delivery.success).toEqual({ preset: 'wechatpay-v3' });
    expect(p!.spec.delivery.signing?.secretRef.name).toBeTruthy();
    expect(p!.spec.delivery.target.url ?? p!.spec.delivery.target.fromHeader).toBeTruthy();
  });

  test('demo.yaml has a short ladder and reaches the loopback merchant', async () => {
    const [p] = await loadPipelineFile(join(DIR, 'demo.yaml'));
    expect(planTopology(p!.metadata, p!.spec).ladderMs.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(10_000);
    expect(p!.spec.delivery).toMatchObject({ target: { fromBody: true }, success: { preset: 'alipay' }, allowPrivateNetworks: true });
  });
});
