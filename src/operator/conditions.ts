/**
 * The one condition helper: merge desired conditions into the current list, keeping
 * `lastTransitionTime` unless `status` really changed, and stamping `observedGeneration`.
 */
import type { Condition } from '../api/index.js';

export interface DesiredCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

/**
 * Returns a new list: every desired condition, in the order given, followed by current
 * conditions of other types (owned by someone else; left untouched). Pure: `now` is passed in.
 */
export function setConditions(current: readonly Condition[] | undefined, desired: readonly DesiredCondition[], generation: number | undefined, now: Date): Condition[] {
  const byType = new Map((current ?? []).map((c) => [c.type, c]));
  const out: Condition[] = desired.map((d) => {
    const prev = byType.get(d.type);
    const lastTransitionTime = prev !== undefined && prev.status === d.status ? prev.lastTransitionTime : rfc3339(now);
    return {
      type: d.type,
      status: d.status,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      lastTransitionTime,
      reason: d.reason,
      message: d.message,
    };
  });
  const mine = new Set(desired.map((d) => d.type));
  for (const c of current ?? []) if (!mine.has(c.type)) out.push(c);
  return out;
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** Kubernetes stores metav1.Time with second precision; matching it keeps status comparisons stable. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
