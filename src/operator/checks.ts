/**
 * From what a reconcile observed to the three conditions. Pure: the reconcile gathers an
 * `Observation`, these functions judge it. `Ready` is the first failing check of an ordered
 * chain (spec → deletion → secret → topology → workers); its reason and message explain it.
 */
import type { DesiredCondition } from './conditions.js';
import { ConditionType, Reason } from './reasons.js';

/** Something that keeps a pipeline from being ready, said for a person. */
export interface Problem {
  reason: string;
  message: string;
}

export interface WorkersObservation {
  desired: number;
  available: number;
  ready: number;
}

export interface Observation {
  /** The spec read from the API server failed validation. */
  spec?: Problem;
  /** Deletion under policy Delete is waiting for queues to empty. */
  deletion?: Problem;
  /** The RabbitMQ Secret could not be used. */
  secret?: Problem;
  /** Outcome of applying the topology; undefined when it was not attempted. */
  topology?: { ok: true; queues: number; draining: string[] } | { ok: false; problem: Problem };
  /** The worker Deployment as last applied; a Problem when it could not be applied. */
  workers?: WorkersObservation | Problem;
}

type Check = (o: Observation) => Problem | undefined;

const isProblem = (w: WorkersObservation | Problem | undefined): w is Problem => w !== undefined && 'reason' in w;

/** The ordered chain; the first Problem decides Ready. */
export const READY_CHECKS: readonly Check[] = [
  (o) => o.spec,
  (o) => o.deletion,
  (o) => o.secret,
  (o) => {
    if (o.topology === undefined) return { reason: Reason.Pending, message: 'the RabbitMQ topology has not been applied yet' };
    return o.topology.ok ? undefined : o.topology.problem;
  },
  (o) => {
    const w = o.workers;
    if (w === undefined) return { reason: Reason.Pending, message: 'the worker Deployment has not been applied yet' };
    if (isProblem(w)) return w;
    if (w.desired > 0 && w.available < w.desired) return { reason: Reason.WorkersUnavailable, message: `${w.available}/${w.desired} workers available` };
    return undefined;
  },
];

export function firstProblem(o: Observation, checks: readonly Check[] = READY_CHECKS): Problem | undefined {
  for (const check of checks) {
    const p = check(o);
    if (p !== undefined) return p;
  }
  return undefined;
}

export function topologyCondition(o: Observation): DesiredCondition {
  const p = o.spec ?? o.secret ?? (o.topology !== undefined && !o.topology.ok ? o.topology.problem : undefined);
  if (p !== undefined) return { type: ConditionType.TopologyReady, status: 'False', ...p };
  if (o.topology === undefined) return { type: ConditionType.TopologyReady, status: 'Unknown', reason: Reason.Pending, message: 'the RabbitMQ topology has not been applied yet' };
  const { queues, draining } = o.topology as { queues: number; draining: string[] };
  const drainText = draining.length === 0 ? '' : `; ${draining.length} old rung${draining.length === 1 ? '' : 's'} draining (${draining.join(', ')})`;
  return { type: ConditionType.TopologyReady, status: 'True', reason: Reason.TopologyApplied, message: `${queues} queues declared and bound${drainText}` };
}

export function workersCondition(o: Observation): DesiredCondition {
  const w = o.workers;
  if (w === undefined) return { type: ConditionType.WorkersAvailable, status: 'Unknown', reason: Reason.Pending, message: 'the worker Deployment has not been applied yet' };
  if (isProblem(w)) return { type: ConditionType.WorkersAvailable, status: 'False', ...w };
  if (w.desired === 0) return { type: ConditionType.WorkersAvailable, status: 'True', reason: Reason.ScaledToZero, message: 'workers are scaled to zero (spec.workers.replicas is 0)' };
  const text = `${w.available}/${w.desired} workers available`;
  return w.available >= w.desired
    ? { type: ConditionType.WorkersAvailable, status: 'True', reason: Reason.WorkersAvailable, message: text }
    : { type: ConditionType.WorkersAvailable, status: 'False', reason: Reason.WorkersUnavailable, message: text };
}

export function readyCondition(o: Observation): DesiredCondition {
  const p = firstProblem(o);
  if (p !== undefined) return { type: ConditionType.Ready, status: 'False', ...p };
  return { type: ConditionType.Ready, status: 'True', reason: Reason.Ready, message: 'topology applied and workers available' };
}

/** All three, in the order they appear in status. */
export function desiredConditions(o: Observation): DesiredCondition[] {
  return [readyCondition(o), topologyCondition(o), workersCondition(o)];
}
