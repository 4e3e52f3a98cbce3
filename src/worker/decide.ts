/**
 * From a verdict to what happens to the message: a pure function of the verdict, the attempt
 * number and the plan. `settle` in worker.ts carries it out (confirmed republish, then ack).
 */
import { rungAfterAttempt, type TopologyPlan } from '../topology/index.js';
import type { Verdict } from './classify.js';

export type Decision =
  | { action: 'ack'; outcome: 'delivered' }
  | { action: 'republish'; outcome: 'retry'; queue: string; delayMs: number; lastError: string }
  | { action: 'republish'; outcome: 'parked'; queue: string; lastError: string; parkedReason: string };

/** `attempt` is the 1-based number of the attempt that produced `verdict`. */
export function decide(verdict: Verdict, attempt: number, plan: TopologyPlan): Decision {
  switch (verdict.kind) {
    case 'delivered':
      return { action: 'ack', outcome: 'delivered' };
    case 'park':
      return { action: 'republish', outcome: 'parked', queue: plan.parked, lastError: verdict.reason, parkedReason: verdict.reason };
    case 'retry': {
      const rung = rungAfterAttempt(plan, attempt);
      if (rung === undefined) {
        return {
          action: 'republish',
          outcome: 'parked',
          queue: plan.parked,
          lastError: verdict.reason,
          parkedReason: `not delivered after ${attempt} attempt${attempt === 1 ? '' : 's'} (ladder exhausted); last error: ${verdict.reason}`,
        };
      }
      return { action: 'republish', outcome: 'retry', queue: rung.queue, delayMs: rung.delayMs, lastError: verdict.reason };
    }
  }
}
