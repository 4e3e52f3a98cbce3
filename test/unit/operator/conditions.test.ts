import { describe, expect, test } from '@jest/globals';
import type { Condition } from '../../../src/api/index.js';
import { desiredConditions, firstProblem, readyCondition, setConditions, workersCondition, type Observation } from '../../../src/operator/index.js';

const T0 = new Date('2026-01-01T00:00:00.123Z');
const T1 = new Date('2026-01-01T00:05:00.000Z');

describe('setConditions', () => {
  test('a new condition gets lastTransitionTime now (second precision) and observedGeneration', () => {
    const out = setConditions(undefined, [{ type: 'Ready', status: 'False', reason: 'Pending', message: 'x' }], 3, T0);
    expect(out).toEqual([{ type: 'Ready', status: 'False', observedGeneration: 3, lastTransitionTime: '2026-01-01T00:00:00Z', reason: 'Pending', message: 'x' }]);
  });

  test('keeps lastTransitionTime when only reason, message or generation change', () => {
    const first = setConditions(undefined, [{ type: 'Ready', status: 'False', reason: 'A', message: 'a' }], 1, T0);
    const second = setConditions(first, [{ type: 'Ready', status: 'False', reason: 'B', message: 'b' }], 2, T1);
    expect(second[0]).toMatchObject({ reason: 'B', message: 'b', observedGeneration: 2, lastTransitionTime: '2026-01-01T00:00:00Z' });
  });

  test('moves lastTransitionTime when status changes', () => {
    const first = setConditions(undefined, [{ type: 'Ready', status: 'False', reason: 'A', message: 'a' }], 1, T0);
    const second = setConditions(first, [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'ok' }], 1, T1);
    expect(second[0]!.lastTransitionTime).toBe('2026-01-01T00:05:00Z');
  });

  test('leaves conditions of other types alone and puts desired ones first', () => {
    const other: Condition = { type: 'Custom', status: 'True', lastTransitionTime: 'x', reason: 'R', message: 'm' };
    const out = setConditions([other], [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'ok' }], 1, T0);
    expect(out.map((c) => c.type)).toEqual(['Ready', 'Custom']);
    expect(out[1]).toBe(other);
  });
});

describe('ready checks', () => {
  const healthy: Observation = { topology: { ok: true, queues: 4, draining: [] }, workers: { desired: 2, available: 2, ready: 2 } };

  test('all checks pass: Ready=True', () => {
    expect(firstProblem(healthy)).toBeUndefined();
    expect(readyCondition(healthy)).toMatchObject({ status: 'True', reason: 'Ready' });
  });

  test.each<[string, Observation, string]>([
    ['an invalid spec comes first', { ...healthy, spec: { reason: 'InvalidSpec', message: 'spec.x: bad' }, secret: { reason: 'SecretNotFound', message: 's' } }, 'InvalidSpec'],
    ['a blocked deletion before the secret', { ...healthy, deletion: { reason: 'QueuesNotEmpty', message: 'd' }, secret: { reason: 'SecretNotFound', message: 's' } }, 'QueuesNotEmpty'],
    ['the secret before the topology', { secret: { reason: 'SecretKeyMissing', message: 's' }, topology: { ok: false, problem: { reason: 'BrokerUnavailable', message: 'b' } } }, 'SecretKeyMissing'],
    ['a topology problem', { ...healthy, topology: { ok: false, problem: { reason: 'TopologyConflict', message: 'c' } } }, 'TopologyConflict'],
    ['no topology yet', { workers: healthy.workers }, 'Pending'],
    ['workers not available', { ...healthy, workers: { desired: 2, available: 1, ready: 1 } }, 'WorkersUnavailable'],
    ['workers failed to apply', { ...healthy, workers: { reason: 'WorkersFailed', message: 'w' } }, 'WorkersFailed'],
  ])('%s', (_what, o, reason) => {
    expect(readyCondition(o)).toMatchObject({ status: 'False', reason });
  });

  test('workers scaled to zero count as available', () => {
    const o: Observation = { ...healthy, workers: { desired: 0, available: 0, ready: 0 } };
    expect(workersCondition(o)).toMatchObject({ status: 'True', reason: 'ScaledToZero' });
    expect(readyCondition(o).status).toBe('True');
  });

  test('the message of the first failing check is the Ready message', () => {
    expect(readyCondition({ ...healthy, workers: { desired: 3, available: 1, ready: 1 } }).message).toBe('1/3 workers available');
  });

  test('desiredConditions gives Ready, TopologyReady and WorkersAvailable; draining rungs are mentioned', () => {
    const out = desiredConditions({ ...healthy, topology: { ok: true, queues: 4, draining: ['q.delay.3s'] } });
    expect(out.map((c) => [c.type, c.status])).toEqual([['Ready', 'True'], ['TopologyReady', 'True'], ['WorkersAvailable', 'True']]);
    expect(out[1]!.message).toBe('4 queues declared and bound; 1 old rung draining (q.delay.3s)');
  });
});
