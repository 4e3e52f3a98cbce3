import { describe, expect, test } from '@jest/globals';
import { parsePipeline, type NotifyPipelineSpec } from '../../../src/api/index.js';
import { drainingRungs, ladderSummary, planTopology, queuePrefix, rungAfterAttempt } from '../../../src/topology/index.js';

function spec(over: { ladder: string[]; type?: 'quorum' | 'classic'; declare?: boolean }): NotifyPipelineSpec {
  return parsePipeline({
    apiVersion: 'ladder.dev/v1alpha1',
    kind: 'NotifyPipeline',
    metadata: { name: 'alipay', namespace: 'payments' },
    spec: {
      source: { exchange: 'notifyExchange', exchangeType: 'topic', durable: false, routingKey: 'AliPaynotify', ...(over.declare !== undefined ? { declare: over.declare } : {}) },
      retry: { ladder: over.ladder },
      delivery: { target: { fromBody: true }, success: { preset: 'alipay' } },
      queues: { type: over.type ?? 'quorum' },
    },
  }).spec;
}
const ref = { namespace: 'payments', name: 'alipay' };

describe('planTopology', () => {
  test('plans quorum queues: work, one rung per distinct delay dead-lettering to the work queue, parked', () => {
    const plan = planTopology(ref, spec({ ladder: ['3s', '30s', '1m'] }));
    expect(plan.exchange).toEqual({ name: 'notifyExchange', type: 'topic', durable: false, declare: true });
    expect(plan.queues).toEqual([
      { name: 'ladder.payments.alipay.work', role: 'work', arguments: { 'x-queue-type': 'quorum' } },
      ...[3_000, 30_000, 60_000].map((ms, i) => ({
        name: `ladder.payments.alipay.delay.${['3s', '30s', '1m'][i]}`,
        role: 'rung',
        delayMs: ms,
        arguments: {
          'x-queue-type': 'quorum',
          'x-message-ttl': ms,
          'x-dead-letter-exchange': '',
          'x-dead-letter-routing-key': 'ladder.payments.alipay.work',
          'x-dead-letter-strategy': 'at-least-once',
          'x-overflow': 'reject-publish',
        },
      })),
      { name: 'ladder.payments.alipay.parked', role: 'parked', arguments: { 'x-queue-type': 'quorum' } },
    ]);
    expect(plan.bindings).toEqual([{ exchange: 'notifyExchange', queue: 'ladder.payments.alipay.work', routingKey: 'AliPaynotify' }]);
    expect(plan.work).toBe('ladder.payments.alipay.work');
    expect(plan.parked).toBe('ladder.payments.alipay.parked');
    expect(plan.rungPrefix).toBe('ladder.payments.alipay.delay.');
  });

  test('plans classic queues without x-queue-type and without quorum-only arguments', () => {
    const plan = planTopology(ref, spec({ ladder: ['200ms'], type: 'classic' }));
    expect(plan.queues.map((q) => q.arguments)).toEqual([
      {},
      { 'x-message-ttl': 200, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'ladder.payments.alipay.work' },
      {},
    ]);
  });

  test('never sets x-expires (an expiring queue drops its messages)', () => {
    for (const type of ['quorum', 'classic'] as const) {
      for (const q of planTopology(ref, spec({ ladder: ['1s', '1h'], type })).queues) expect(q.arguments).not.toHaveProperty('x-expires');
    }
  });

  test('declares each distinct delay once, in ascending order, whatever its spelling (Alipay\'s 10m twice)', () => {
    const plan = planTopology(ref, spec({ ladder: ['4m', '10m', '600s', '1h', '2h', '6h', '15h'] }));
    expect(plan.queues.filter((q) => q.role === 'rung').map((q) => q.name.slice(plan.rungPrefix.length))).toEqual(['4m', '10m', '1h', '2h', '6h', '15h']);
    expect(plan.ladder.map((q) => q.slice(plan.rungPrefix.length))).toEqual(['4m', '10m', '10m', '1h', '2h', '6h', '15h']);
    expect(plan.ladderMs).toEqual([240_000, 600_000, 600_000, 3_600_000, 7_200_000, 21_600_000, 54_000_000]);
  });

  test('sorts rungs ascending even when the ladder is not', () => {
    const plan = planTopology(ref, spec({ ladder: ['1m', '3s'] }));
    expect(plan.queues.map((q) => q.name)).toEqual(['ladder.payments.alipay.work', 'ladder.payments.alipay.delay.3s', 'ladder.payments.alipay.delay.1m', 'ladder.payments.alipay.parked']);
  });

  test('passes declare: false through for an exchange the producers own', () => {
    expect(planTopology(ref, spec({ ladder: ['1s'], declare: false })).exchange.declare).toBe(false);
  });

  test('is pure: the same input gives an equal plan, and the spec is not modified', () => {
    const s = spec({ ladder: ['3s', '30s'] });
    const before = JSON.stringify(s);
    expect(planTopology(ref, s)).toEqual(planTopology(ref, s));
    expect(JSON.stringify(s)).toBe(before);
  });

  test('queue names are prefixed by namespace and name', () => {
    expect(queuePrefix({ namespace: 'demo-1a2b', name: 'demo' })).toBe('ladder.demo-1a2b.demo');
  });
});

describe('rungAfterAttempt', () => {
  const plan = planTopology(ref, spec({ ladder: ['3s', '30s', '3s'] }));
  test.each([
    [1, { queue: 'ladder.payments.alipay.delay.3s', delayMs: 3_000 }],
    [2, { queue: 'ladder.payments.alipay.delay.30s', delayMs: 30_000 }],
    [3, { queue: 'ladder.payments.alipay.delay.3s', delayMs: 3_000 }],
    [4, undefined],
    [10, undefined],
    [0, undefined],
  ])('after failed attempt %d → %j', (attempts, expected) => {
    expect(rungAfterAttempt(plan, attempts)).toEqual(expected);
  });
});

describe('drainingRungs', () => {
  const plan = planTopology(ref, spec({ ladder: ['3s', '1m'] }));
  test('lists known rungs of this pipeline that the ladder no longer has', () => {
    const known = [
      'ladder.payments.alipay.delay.3s',
      'ladder.payments.alipay.delay.30s',
      'ladder.payments.alipay.delay.5m',
      'ladder.payments.alipay.delay.30s',
      'ladder.payments.alipay.work',
      'ladder.payments.alipay.parked',
      'ladder.payments.other.delay.10s',
    ];
    expect(drainingRungs(plan, known)).toEqual(['ladder.payments.alipay.delay.30s', 'ladder.payments.alipay.delay.5m']);
  });
  test('is empty when nothing changed', () => {
    expect(drainingRungs(plan, plan.queues.map((q) => q.name))).toEqual([]);
  });
});

describe('ladderSummary', () => {
  test('writes canonical durations joined by commas', () => {
    expect(ladderSummary(spec({ ladder: ['3s', '90s', '60000ms'] }))).toBe('3s,1m30s,1m');
  });
});
