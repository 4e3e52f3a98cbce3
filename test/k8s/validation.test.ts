/**
 * The CRD refuses what `ladder validate` refuses, at `kubectl apply`, naming the field and what
 * is wrong. Each case is applied with the built kubectl (server-side validation: OpenAPI schema
 * plus CEL) and parsed with the zod schema, so the two front doors cannot drift apart.
 */
import { stringify } from 'yaml';
import { parsePipeline, SpecError } from '../../src/api/index.js';
import { createNamespace, getControlPlane, installCrd, type ControlPlane, type TestNamespace } from './harness.js';

type Doc = { apiVersion: string; kind: string; metadata: { name: string }; spec: Record<string, any> };

function validDoc(name: string): Doc {
  return {
    apiVersion: 'ladder.dev/v1alpha1',
    kind: 'NotifyPipeline',
    metadata: { name },
    spec: {
      source: { exchange: 'notifyExchange', routingKey: 'AliPaynotify' },
      retry: { ladder: ['3s', '30s', '1m'] },
      delivery: { target: { fromBody: true }, success: { preset: 'alipay' } },
    },
  };
}

// [case, change to a valid document, field path kubectl names, words of the message]
const CASES: Array<[string, (d: Doc) => void, string, string]> = [
  ['an empty ladder', (d) => (d.spec.retry.ladder = []), 'spec.retry.ladder', 'at least 1 items'],
  ['a rung that is not a duration', (d) => (d.spec.retry.ladder = ['3s', '5 minutes']), 'spec.retry.ladder[1]', '"5 minutes" is not a duration like 5m'],
  ['a rung of zero', (d) => (d.spec.retry.ladder = ['0s']), 'spec.retry.ladder[0]', '"0s" must be longer than 0s'],
  ['a rung over seven days', (d) => (d.spec.retry.ladder = ['169h']), 'spec.retry.ladder[0]', 'at most 168h'],
  ['a target that is not http(s)', (d) => (d.spec.delivery.target = { url: 'ftp://merchant.example/notify' }), 'spec.delivery.target.url', 'url must be an http(s) URL'],
  ['no target at all', (d) => (d.spec.delivery.target = {}), 'spec.delivery.target', 'set exactly one of url, fromHeader or fromBody: true'],
  ['two targets', (d) => (d.spec.delivery.target = { fromBody: true, fromHeader: 'notify-url' }), 'spec.delivery.target', 'set exactly one of url, fromHeader or fromBody: true'],
  ['a preset and a custom rule together', (d) => (d.spec.delivery.success = { preset: 'alipay', status: [200] }), 'spec.delivery.success', 'set either preset or status/bodyPattern'],
  ['an unknown preset', (d) => (d.spec.delivery.success = { preset: 'paypal' }), 'spec.delivery.success.preset', 'Unsupported value: "paypal"'],
  ['a timeout over two minutes', (d) => (d.spec.delivery.timeout = '3m'), 'spec.delivery.timeout', 'at most 2m'],
  ['concurrency of zero', (d) => (d.spec.workers = { concurrency: 0 }), 'spec.workers.concurrency', 'greater than or equal to 1'],
  ['concurrency over 1000', (d) => (d.spec.workers = { concurrency: 5000 }), 'spec.workers.concurrency', 'less than or equal to 1000'],
  ['an unknown queue type', (d) => (d.spec.queues = { type: 'stream' }), 'spec.queues.type', 'Unsupported value: "stream"'],
  ['no source exchange', (d) => delete d.spec.source.exchange, 'spec.source.exchange', 'Required value'],
];

describe('kubectl apply refuses an invalid NotifyPipeline with the field and the reason', () => {
  let cp: ControlPlane;
  let ns: TestNamespace;

  beforeAll(async () => {
    cp = await getControlPlane();
    ns = await createNamespace('validation');
    await installCrd();
  }, 300_000);

  afterAll(() => ns?.delete());

  test('a valid pipeline is accepted by both (the cases below differ from it in one field)', async () => {
    const doc = validDoc('valid');
    expect(() => parsePipeline(doc)).not.toThrow();
    const r = await cp.kubectl(['apply', '-n', ns.name, '-f', '-'], { input: stringify(doc) });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  test.each(CASES)('%s', async (_case, change, path, words) => {
    const doc = validDoc('bad');
    change(doc);
    const r = await cp.kubectl(['apply', '-n', ns.name, '-f', '-'], { input: stringify(doc) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${path}:`);
    expect(r.stderr).toContain(words);
    // The same document is refused before anything touches RabbitMQ by `ladder validate`/`run`.
    let error: unknown;
    try {
      parsePipeline(doc);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SpecError);
    expect((error as SpecError).issues.map((i) => i.path)).toContain(path);
  });
});
