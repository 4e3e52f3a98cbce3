/**
 * The demo's story, as pure data and pure formatting: how the demo merchant treats each order,
 * and how a worker outcome reads to a person.
 */
import { formatDuration } from '../api/index.js';
import type { MerchantAnswer } from './merchant.js';

export interface OrderScript {
  /** What this order's merchant does, in words (printed once at the start). */
  story: string;
  /** The merchant's answer to attempt n (1-based). */
  answer(attempt: number): MerchantAnswer;
  /** Whether the notification is expected to end delivered or parked. */
  expect: 'delivered' | 'parked';
}

const success: MerchantAnswer = { status: 200, body: 'success' };
const fail: MerchantAnswer = { status: 200, body: 'fail' };

/** The cycle of behaviours; order n gets SCRIPTS[(n - 1) % length]. Exactly one in six is parked. */
const SCRIPTS: OrderScript[] = [
  { story: 'answers "success" at once', answer: () => success, expect: 'delivered' },
  { story: 'answers "fail" once, then "success"', answer: (n) => (n <= 1 ? fail : success), expect: 'delivered' },
  { story: 'answers "fail" twice, then "success"', answer: (n) => (n <= 2 ? fail : success), expect: 'delivered' },
  { story: 'crashes once (HTTP 500), then "success"', answer: (n) => (n <= 1 ? { status: 500, body: 'Internal Server Error' } : success), expect: 'delivered' },
  { story: 'always answers "fail"', answer: () => fail, expect: 'parked' },
  { story: 'answers "SUCCESS" (wrong case) once, then "success"', answer: (n) => (n <= 1 ? { status: 200, body: 'SUCCESS' } : success), expect: 'delivered' },
];

export function orderScript(orderNumber: number): OrderScript {
  return SCRIPTS[(orderNumber - 1) % SCRIPTS.length]!;
}

export interface OutcomeView {
  order: string;
  attempt: number;
  outcome: 'delivered' | 'retry' | 'parked';
  status?: number;
  error?: string;
  /** Delay of the rung the notification went to (retry only). */
  nextDelayMs?: number;
  /** Seconds since the demo started. */
  atSec: number;
}

/** One line per settled attempt, e.g. `+1.02s  order-2  attempt 2  ✓ delivered (HTTP 200)`. */
export function formatOutcome(v: OutcomeView, orderWidth = 8): string {
  const head = `  ${`+${v.atSec.toFixed(2)}s`.padStart(7)}  ${v.order.padEnd(orderWidth)}  attempt ${v.attempt}  `;
  switch (v.outcome) {
    case 'delivered':
      return `${head}✓ delivered${v.status !== undefined ? ` (HTTP ${v.status})` : ''}`;
    case 'retry':
      return `${head}✗ ${v.error ?? 'failed'}  → retry in ${v.nextDelayMs !== undefined ? formatDuration(v.nextDelayMs) : '?'}`;
    case 'parked':
      return `${head}✗ ${v.error ?? 'failed'}  → parked after ${v.attempt} attempt${v.attempt === 1 ? '' : 's'}`;
  }
}
