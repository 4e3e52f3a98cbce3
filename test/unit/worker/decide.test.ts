import { describe, expect, test } from '@jest/globals';
import { parsePipeline } from '../../../src/api/index.js';
import { planTopology } from '../../../src/topology/index.js';
import { decide } from '../../../src/worker/index.js';

const plan = planTopology({ namespace: 'ns', name: 'p' }, parsePipeline({
  apiVersion: 'ladder.dev/v1alpha1', kind: 'NotifyPipeline', metadata: { name: 'p', namespace: 'ns' },
  spec: { source: { exchange: 'x', routingKey: 'k' }, retry: { ladder: ['200ms', '400ms', '200ms'] }, delivery: { target: { fromBody: true } } },
}).spec);

describe('decide', () => {
  test('delivered is acked without republishing', () => {
    expect(decide({ kind: 'delivered', status: 200 }, 1, plan)).toEqual({ action: 'ack', outcome: 'delivered' });
  });
  test.each([
    [1, 'ladder.ns.p.delay.200ms', 200],
    [2, 'ladder.ns.p.delay.400ms', 400],
    [3, 'ladder.ns.p.delay.200ms', 200],
  ])('a failed attempt %i goes to %s', (attempt, queue, delayMs) => {
    expect(decide({ kind: 'retry', reason: 'HTTP 500' }, attempt, plan)).toEqual({ action: 'republish', outcome: 'retry', queue, delayMs, lastError: 'HTTP 500' });
  });
  test('after the last rung the notification is parked with the reason', () => {
    const d = decide({ kind: 'retry', reason: 'HTTP 500' }, 4, plan);
    expect(d).toMatchObject({ action: 'republish', outcome: 'parked', queue: 'ladder.ns.p.parked', lastError: 'HTTP 500' });
    expect(d.action === 'republish' && d.outcome === 'parked' && d.parkedReason).toMatch(/after 4 attempts.*HTTP 500/);
  });
  test('a park verdict parks at once, whatever the attempt', () => {
    expect(decide({ kind: 'park', reason: 'gone' }, 1, plan)).toEqual({ action: 'republish', outcome: 'parked', queue: 'ladder.ns.p.parked', lastError: 'gone', parkedReason: 'gone' });
  });
});
