import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { NotifyPipeline } from '../../src/api/index.js';
import type { OutcomeEvent } from '../../src/worker/index.js';
import { testConnection, testPipeline, uniqueNamespace } from './support/amqp.js';
import { answer, closedPort, startMerchant, type Merchant } from './support/merchant.js';
import { runTeardown, runWorker, type RunningWorker } from './support/worker.js';

const WX_OK = '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';
const WX_FAIL = '<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[sign error]]></return_msg></xml>';

const conn = testConnection();
const teardown: Array<() => Promise<unknown>> = [];
let merchant: Merchant;

beforeAll(async () => {
  merchant = await startMerchant((a, res) => {
    switch (a.path) {
      case '/success': return answer(res, 200, 'success');
      case '/SUCCESS': return answer(res, 200, 'SUCCESS');
      case '/fail': return answer(res, 200, 'fail');
      case '/wx-ok': return answer(res, 200, WX_OK, { 'content-type': 'text/xml' });
      case '/wx-fail': return answer(res, 200, WX_FAIL, { 'content-type': 'text/xml' });
      case '/204': return answer(res, 204);
      case '/302': return answer(res, 302, '', { location: '/success' });
      case '/garbage': return answer(res, 200, '\u0000\u00ff<<>>{{not: a, reply', { 'content-type': 'application/octet-stream' });
      case '/500': return answer(res, 500, 'Internal Server Error');
      case '/410': return answer(res, 410, 'Gone');
      case '/huge': {
        // 8 MiB that starts with "success": only maxResponseBytes are read, and the rule sees those.
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('success');
        const chunk = Buffer.alloc(64 * 1024, 'x');
        for (let i = 0; i < 128; i++) res.write(chunk);
        return res.end();
      }
      case '/hang': return; // never answers
      case '/reset': return a.headers && res.socket?.destroy();
      default: return answer(res, 404, 'no such path');
    }
  });
});
afterAll(async () => {
  await runTeardown(teardown);
  await merchant.close();
  await conn.close();
});

/** One worker per success rule; each message names its merchant path in the notify-url header. */
async function workerFor(success: Record<string, unknown>, extra: Parameters<typeof testPipeline>[1] = {}): Promise<RunningWorker> {
  const p: NotifyPipeline = testPipeline(uniqueNamespace(), { success, target: { fromHeader: 'notify-url' }, ladder: ['30s'], ...extra });
  return runWorker(conn, p, teardown);
}

async function firstOutcome(w: RunningWorker, url: string): Promise<OutcomeEvent> {
  const id = await w.publish('{"out_trade_no":"X"}', { headers: { 'notify-url': url }, contentType: 'application/json' });
  const [e] = await w.until(id, (x) => x.length >= 1);
  return e!;
}

type Row = [path: string, outcome: OutcomeEvent['outcome']];
const presets: Array<[string, Record<string, unknown>, Row[]]> = [
  ['alipay', { preset: 'alipay' }, [['/success', 'delivered'], ['/SUCCESS', 'retry'], ['/fail', 'retry'], ['/wx-ok', 'retry'], ['/204', 'retry'], ['/302', 'retry'], ['/garbage', 'retry'], ['/500', 'retry'], ['/410', 'parked'], ['/huge', 'retry']]],
  ['wechatpay-v2', { preset: 'wechatpay-v2' }, [['/wx-ok', 'delivered'], ['/wx-fail', 'retry'], ['/success', 'retry'], ['/204', 'retry'], ['/garbage', 'retry'], ['/500', 'retry']]],
  ['wechatpay-v3', { preset: 'wechatpay-v3' }, [['/204', 'delivered'], ['/success', 'delivered'], ['/fail', 'delivered'], ['/302', 'retry'], ['/404', 'retry'], ['/500', 'retry']]],
  ['http-2xx', { preset: 'http-2xx' }, [['/success', 'delivered'], ['/204', 'delivered'], ['/garbage', 'delivered'], ['/huge', 'delivered'], ['/302', 'retry'], ['/500', 'retry'], ['/410', 'parked']]],
  ['custom', { status: [200], bodyPattern: '^(success|SUCCESS)$' }, [['/success', 'delivered'], ['/SUCCESS', 'delivered'], ['/fail', 'retry'], ['/204', 'retry']]],
];

describe.each(presets)('success rule %s against real merchant answers', (_name, success, rows) => {
  let w: RunningWorker;
  beforeAll(async () => {
    w = await workerFor(success);
  });
  test.each(rows)('%s → %s', async (path, outcome) => {
    const e = await firstOutcome(w, `${merchant.url}${path}`);
    expect(e).toMatchObject({ attempt: 1, outcome });
    if (outcome === 'retry') expect(e.queue).toBe(w.plan.ladder[0]);
    if (outcome === 'parked') expect(e.queue).toBe(w.plan.parked);
  });
});

describe('attempts that get no answer are retried', () => {
  let w: RunningWorker;
  beforeAll(async () => {
    w = await workerFor({ preset: 'http-2xx' }, { timeout: '300ms' });
  });

  test('a merchant that never answers times out after the per-attempt timeout', async () => {
    const started = Date.now();
    const e = await firstOutcome(w, `${merchant.url}/hang`);
    expect(e).toMatchObject({ outcome: 'retry', error: 'no answer within 300 ms' });
    expect(e.latencyMs).toBeGreaterThanOrEqual(290);
    expect(e.latencyMs).toBeLessThan(1500);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  test('connection refused', async () => {
    const e = await firstOutcome(w, `http://127.0.0.1:${await closedPort()}/notify`);
    expect(e).toMatchObject({ outcome: 'retry' });
    expect(e.error).toMatch(/ECONNREFUSED/);
  });

  test('connection reset by the merchant', async () => {
    const e = await firstOutcome(w, `${merchant.url}/reset`);
    expect(e.outcome).toBe('retry');
    expect(e.error).toMatch(/ECONNRESET|UND_ERR_SOCKET|other side closed|socket/i);
  });

  test('an unresolvable host', async () => {
    const e = await firstOutcome(w, 'http://merchant.invalid/notify');
    expect(e.outcome).toBe('retry');
    expect(e.error).toMatch(/ENOTFOUND|EAI_AGAIN/);
  });
});
