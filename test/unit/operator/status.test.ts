import { describe, expect, test } from '@jest/globals';
import { buildStatus, rolledOut, sameJson, type StatusInput } from '../../../src/operator/index.js';

const base: StatusInput = {
  previous: undefined,
  generation: 2,
  now: new Date('2026-01-01T00:00:00Z'),
  observation: { topology: { ok: true, queues: 3, draining: [] }, workers: { desired: 1, available: 1, ready: 1 } },
  ladder: '3s',
  queues: { work: 'w', rungs: ['r'], parked: 'p', draining: [] },
  depths: { work: 0, delayed: 0, parked: 0 },
  workers: { ready: 1, desired: 1 },
};

describe('buildStatus', () => {
  test('fills every field; an empty draining list is left out', () => {
    const s = buildStatus(base);
    expect(s).toMatchObject({ observedGeneration: 2, ladder: '3s', workers: '1/1', readyReplicas: 1, queues: { work: 'w', rungs: ['r'], parked: 'p' }, depths: { work: 0, delayed: 0, parked: 0, sampledAt: '2026-01-01T00:00:00Z' } });
    expect(s.queues).not.toHaveProperty('draining');
  });

  test('the same observation later gives an equal status (nothing to write)', () => {
    const first = buildStatus(base);
    const again = buildStatus({ ...base, previous: first, now: new Date('2026-01-01T00:10:00Z') });
    expect(sameJson(first, again)).toBe(true);
  });

  test('depths are replaced (with a new sampledAt) only when a number changed', () => {
    const first = buildStatus(base);
    const changed = buildStatus({ ...base, previous: first, now: new Date('2026-01-01T00:10:00Z'), depths: { work: 0, delayed: 0, parked: 4 } });
    expect(changed.depths).toEqual({ work: 0, delayed: 0, parked: 4, sampledAt: '2026-01-01T00:10:00Z' });
  });

  test('fields not observed this time keep their previous values', () => {
    const first = buildStatus(base);
    const failed = buildStatus({ previous: first, generation: 3, now: base.now, observation: { secret: { reason: 'SecretNotFound', message: 'm' } } });
    expect(failed.queues).toEqual(first.queues);
    expect(failed.depths).toEqual(first.depths);
    expect(failed.workers).toBe('1/1');
    expect(failed.observedGeneration).toBe(3);
    expect(failed.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'SecretNotFound' });
  });

  test('sameJson ignores key order and undefined fields', () => {
    expect(sameJson({ a: 1, b: { c: [1, 2], d: undefined } }, { b: { c: [1, 2] }, a: 1 })).toBe(true);
    expect(sameJson({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
  });
});

describe('rolledOut', () => {
  const dep = (generation: number, status: Record<string, number>) => ({ metadata: { generation }, status });
  test.each<[string, ReturnType<typeof dep>, number, boolean]>([
    ['scaled to zero', dep(3, {}), 0, true],
    ['every pod on the current template', dep(3, { observedGeneration: 3, replicas: 2, updatedReplicas: 2 }), 2, true],
    ['the controller has not seen the new generation', dep(4, { observedGeneration: 3, replicas: 2, updatedReplicas: 2 }), 2, false],
    ['an old pod is still there (surge)', dep(3, { observedGeneration: 3, replicas: 3, updatedReplicas: 2 }), 2, false],
    ['no status at all (no Deployment controller)', dep(1, {}), 1, false],
  ])('%s → %s', (_what, d, desired, expected) => {
    expect(rolledOut(d, desired)).toBe(expected);
  });
});
