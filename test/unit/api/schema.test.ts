import { describe, expect, test } from '@jest/globals';
import { parsePipeline, SpecError, type SpecIssue } from '../../../src/api/index.js';

type Doc = Record<string, any>;
const valid = (): Doc => ({
  apiVersion: 'ladder.dev/v1alpha1',
  kind: 'NotifyPipeline',
  metadata: { name: 'alipay', namespace: 'payments' },
  spec: {
    source: { exchange: 'notifyExchange', exchangeType: 'topic', durable: false, routingKey: 'AliPaynotify' },
    retry: { ladder: ['3s', '30s', '1m'] },
    delivery: { target: { fromBody: true }, success: { preset: 'alipay' } },
  },
});

function issues(mutate: (d: Doc) => void): SpecIssue[] {
  const doc = valid();
  mutate(doc);
  try {
    parsePipeline(doc, 'test.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    expect((e as SpecError).code).toBe('LADDER_INVALID_SPEC');
    return (e as SpecError).issues;
  }
  throw new Error('expected the document to be rejected');
}

describe('parsePipeline rejects invalid documents, naming the field and what is wrong', () => {
  test.each<[string, (d: Doc) => void, string, string]>([
    ['a rung that is not a duration', (d) => (d.spec.retry.ladder = ['1s', '2s', '5 minutes']), 'spec.retry.ladder[2]', '"5 minutes" is not a duration like 5m (use a number with ms, s, m or h, e.g. 200ms, 30s, 1m, 2h)'],
    ['a rung in days', (d) => (d.spec.retry.ladder = ['1d']), 'spec.retry.ladder[0]', '"1d" is not a duration like 5m (use a number with ms, s, m or h, e.g. 200ms, 30s, 1m, 2h)'],
    ['a zero rung', (d) => (d.spec.retry.ladder = ['0s']), 'spec.retry.ladder[0]', '"0s" must be longer than zero'],
    ['a rung over 7 days', (d) => (d.spec.retry.ladder = ['169h']), 'spec.retry.ladder[0]', '"169h" is longer than the rung limit of 168h'],
    ['an empty ladder', (d) => (d.spec.retry.ladder = []), 'spec.retry.ladder', 'needs at least one rung, e.g. [30s, 1m, 5m]'],
    ['31 rungs', (d) => (d.spec.retry.ladder = Array(31).fill('1s')), 'spec.retry.ladder', 'may have at most 30 rungs'],
    ['a missing exchange', (d) => delete d.spec.source.exchange, 'spec.source.exchange', 'is required (string)'],
    ['an exchange name with a space', (d) => (d.spec.source.exchange = 'a b'), 'spec.source.exchange', 'may only contain letters, digits and _ . : - /'],
    ['an unknown exchange type', (d) => (d.spec.source.exchangeType = 'x'), 'spec.source.exchangeType', 'Invalid option: expected one of "topic"|"direct"|"fanout"|"headers"'],
    ['two targets', (d) => (d.spec.delivery.target = { fromBody: true, url: 'https://m.example/n' }), 'spec.delivery.target', 'set exactly one of url, fromHeader or fromBody: true'],
    ['no target', (d) => (d.spec.delivery.target = {}), 'spec.delivery.target', 'set exactly one of url, fromHeader or fromBody: true'],
    ['fromBody: false alone', (d) => (d.spec.delivery.target = { fromBody: false }), 'spec.delivery.target', 'set exactly one of url, fromHeader or fromBody: true'],
    ['a non-http url', (d) => (d.spec.delivery.target = { url: 'ftp://m.example/n' }), 'spec.delivery.target.url', '"ftp://m.example/n" is not an http(s) URL like https://merchant.example/notify'],
    ['a preset and a custom rule', (d) => (d.spec.delivery.success = { preset: 'alipay', status: [200] }), 'spec.delivery.success', 'set either preset or status/bodyPattern, not both'],
    ['no success rule', (d) => (d.spec.delivery.success = {}), 'spec.delivery.success', 'set a preset (alipay, wechatpay-v2, wechatpay-v3, http-2xx) or a custom status/bodyPattern rule'],
    ['an unknown preset', (d) => (d.spec.delivery.success = { preset: 'paypal' }), 'spec.delivery.success.preset', 'Invalid option: expected one of "alipay"|"wechatpay-v2"|"wechatpay-v3"|"http-2xx"'],
    ['a timeout over 120s', (d) => (d.spec.delivery.timeout = '3m'), 'spec.delivery.timeout', '"3m" is longer than the timeout limit of 2m'],
    ['GET as method', (d) => (d.spec.delivery.method = 'GET'), 'spec.delivery.method', 'Invalid option: expected one of "POST"|"PUT"'],
    ['a CIDR without prefix length', (d) => (d.spec.delivery.allowedCidrs = ['10.0.0.0']), 'spec.delivery.allowedCidrs[0]', 'is not a CIDR like 10.1.0.0/16 or fd00::/8'],
    ['a stream queue type', (d) => (d.spec.queues = { type: 'stream' }), 'spec.queues.type', 'Invalid option: expected one of "quorum"|"classic"'],
    ['zero concurrency', (d) => (d.spec.workers = { concurrency: 0 }), 'spec.workers.concurrency', 'Too small: expected number to be >=1'],
    ['an unknown deletion policy', (d) => (d.spec.deletionPolicy = 'Orphan'), 'spec.deletionPolicy', 'Invalid option: expected one of "Retain"|"Delete"'],
    ['a name that is not a DNS label', (d) => (d.metadata.name = 'Bad_Name'), 'metadata.name', 'must be a DNS label: lower-case letters, digits and -, starting and ending with a letter or digit'],
    ['another apiVersion', (d) => (d.apiVersion = 'ladder.dev/v1'), 'apiVersion', 'must be ladder.dev/v1alpha1'],
    ['another kind', (d) => (d.kind = 'Pipeline'), 'kind', 'must be NotifyPipeline'],
    ['no spec', (d) => delete d.spec, 'spec', 'is required (object)'],
    ['no delivery', (d) => delete d.spec.delivery, 'spec.delivery', 'is required (object)'],
  ])('%s', (_what, mutate, path, message) => {
    expect(issues(mutate)).toEqual([{ path, message }]);
  });

  test('an invalid bodyPattern names the field and the regex error', () => {
    const [issue] = issues((d) => (d.spec.delivery.success = { bodyPattern: '(' }));
    expect(issue?.path).toBe('spec.delivery.success.bodyPattern');
    expect(issue?.message).toMatch(/^is not a valid regular expression: /);
  });

  test('every bad field is reported at once, and the error message lists them', () => {
    const doc = valid();
    doc.spec.retry.ladder = ['5 minutes'];
    doc.spec.delivery.method = 'GET';
    let error: SpecError | undefined;
    try {
      parsePipeline(doc, 'p.yaml');
    } catch (e) {
      error = e as SpecError;
    }
    expect(error?.issues.map((i) => i.path).sort()).toEqual(['spec.delivery.method', 'spec.retry.ladder[0]']);
    expect(error?.message).toContain('p.yaml is not a valid NotifyPipeline:');
    expect(error?.message).toContain('  spec.retry.ladder[0]: "5 minutes" is not a duration like 5m');
  });
});

describe('parsePipeline accepts valid documents and fills the defaults', () => {
  test('a minimal document gets every default', () => {
    const p = parsePipeline({
      apiVersion: 'ladder.dev/v1alpha1',
      kind: 'NotifyPipeline',
      metadata: { name: 'm' },
      spec: { source: { exchange: 'ex' }, retry: { ladder: ['1s'] }, delivery: { target: { url: 'https://merchant.example/notify' } } },
    });
    expect(p.metadata.namespace).toBe('default');
    expect(p.spec).toEqual({
      rabbitmq: {},
      source: { exchange: 'ex', exchangeType: 'topic', durable: true, declare: true, routingKey: '' },
      retry: { ladder: ['1s'] },
      delivery: {
        target: { url: 'https://merchant.example/notify' },
        method: 'POST',
        timeout: '5s',
        success: { preset: 'http-2xx' },
        allowPrivateNetworks: false,
        allowedCidrs: [],
        maxResponseBytes: 65536,
      },
      queues: { type: 'quorum' },
      workers: { replicas: 2, concurrency: 32 },
      deletionPolicy: 'Retain',
    });
  });

  test('secret references default their key', () => {
    const doc = valid();
    doc.spec.rabbitmq = { secretRef: { name: 'rabbitmq' } };
    doc.spec.delivery.signing = { secretRef: { name: 'webhook' } };
    const p = parsePipeline(doc);
    expect(p.spec.rabbitmq.secretRef).toEqual({ name: 'rabbitmq', key: 'uri' });
    expect(p.spec.delivery.signing?.secretRef).toEqual({ name: 'webhook', key: 'secret' });
  });

  test.each([
    [{ preset: 'wechatpay-v2' }],
    [{ status: [200, 204] }],
    [{ bodyPattern: '^(success|SUCCESS)$' }],
    [{ status: [200], bodyPattern: 'ok' }],
  ])('success rule %j is accepted', (success) => {
    const doc = valid();
    doc.spec.delivery.success = success;
    expect(parsePipeline(doc).spec.delivery.success).toEqual(success);
  });

  test('unknown metadata (labels, uid from the API server) is kept', () => {
    const doc = valid();
    doc.metadata.labels = { team: 'pay' };
    doc.metadata.uid = 'abc';
    expect(parsePipeline(doc).metadata).toMatchObject({ labels: { team: 'pay' }, uid: 'abc' });
  });
});
