/**
 * Pure status building: what the reconcile observed plus the previous status in, the status to
 * write out. Depths are only replaced when a number changed, so an idle pipeline's status (and
 * resourceVersion) stays put across resyncs.
 */
import type { NotifyPipelineStatus } from '../api/index.js';
import { desiredConditions, type Observation } from './checks.js';
import { setConditions, rfc3339, type DesiredCondition } from './conditions.js';

export interface QueueNames {
  work: string;
  rungs: string[];
  parked: string;
  draining: string[];
}

export interface Depths {
  work: number;
  delayed: number;
  parked: number;
}

export interface StatusInput {
  previous: NotifyPipelineStatus | undefined;
  generation: number | undefined;
  now: Date;
  observation: Observation;
  /** Only these condition types are set (others keep their value). Default: all three. */
  conditions?: DesiredCondition[];
  /** undefined: keep the previous value. */
  ladder?: string;
  queues?: QueueNames;
  depths?: Depths;
  workers?: { ready: number; desired: number };
}

export function buildStatus(input: StatusInput): NotifyPipelineStatus {
  const prev = input.previous ?? {};
  const out: NotifyPipelineStatus = {};
  if (input.generation !== undefined) out.observedGeneration = input.generation;
  out.conditions = setConditions(prev.conditions, input.conditions ?? desiredConditions(input.observation), input.generation, input.now);
  const ladder = input.ladder ?? prev.ladder;
  if (ladder !== undefined) out.ladder = ladder;
  if (input.workers !== undefined) {
    out.workers = `${input.workers.ready}/${input.workers.desired}`;
    out.readyReplicas = input.workers.ready;
  } else {
    if (prev.workers !== undefined) out.workers = prev.workers;
    if (prev.readyReplicas !== undefined) out.readyReplicas = prev.readyReplicas;
  }
  if (input.queues !== undefined) {
    const { draining, ...rest } = input.queues;
    out.queues = { ...rest, ...(draining.length > 0 ? { draining } : {}) };
  } else if (prev.queues !== undefined) out.queues = prev.queues;
  const d = input.depths;
  const pd = prev.depths;
  if (d !== undefined && (pd === undefined || pd.work !== d.work || pd.delayed !== d.delayed || pd.parked !== d.parked)) {
    out.depths = { ...d, sampledAt: rfc3339(input.now) };
  } else if (pd !== undefined) out.depths = pd;
  return out;
}

/** Structural equality that ignores key order (the API server re-orders keys). */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}
