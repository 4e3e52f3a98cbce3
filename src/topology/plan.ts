/**
 * The pure topology planner: a NotifyPipeline spec in, the exact RabbitMQ objects out.
 * No I/O, no clock. The adapter (`apply.ts`) declares what this returns; the worker uses the
 * same plan to pick the rung for an attempt, so both always agree on names.
 */
import { formatDuration, parseDuration, type NotifyPipelineSpec } from '../api/index.js';

export type QueueRole = 'work' | 'rung' | 'parked';
export type QueueArguments = Record<string, string | number>;

export interface ExchangeDecl {
  name: string;
  type: 'topic' | 'direct' | 'fanout' | 'headers';
  durable: boolean;
  /** false: the exchange belongs to the producers; only check it exists (passive). */
  declare: boolean;
}

export interface QueueDecl {
  name: string;
  role: QueueRole;
  /** For rungs: the TTL in ms. */
  delayMs?: number;
  arguments: QueueArguments;
}

export interface BindingDecl {
  exchange: string;
  queue: string;
  routingKey: string;
}

export interface TopologyPlan {
  exchange: ExchangeDecl;
  /** Work queue, then rungs in ascending delay, then the parking queue. */
  queues: QueueDecl[];
  bindings: BindingDecl[];
  work: string;
  parked: string;
  /** Rung queue per ladder position (a delay used twice appears twice, one queue). */
  ladder: string[];
  /** Delay in ms per ladder position. */
  ladderMs: number[];
  /** Prefix shared by all rung queues of this pipeline; old rungs are recognised by it. */
  rungPrefix: string;
}

export interface PipelineRef {
  namespace: string;
  name: string;
}

export function queuePrefix(ref: PipelineRef): string {
  return `ladder.${ref.namespace}.${ref.name}`;
}

export function planTopology(ref: PipelineRef, spec: NotifyPipelineSpec): TopologyPlan {
  const prefix = queuePrefix(ref);
  const work = `${prefix}.work`;
  const parked = `${prefix}.parked`;
  const rungPrefix = `${prefix}.delay.`;
  const quorum = spec.queues.type === 'quorum';
  // Classic queues are declared without x-queue-type, as every client does by default, so a
  // queue made by an older tool or by hand with no arguments is not reported as a conflict.
  const typeArgs: QueueArguments = quorum ? { 'x-queue-type': 'quorum' } : {};

  const ladderMs = spec.retry.ladder.map((d, i) => {
    const ms = parseDuration(d);
    if (ms === undefined || ms <= 0) throw new RangeError(`spec.retry.ladder[${i}]: "${d}" is not a positive duration`);
    return ms;
  });
  const rungName = (ms: number) => `${rungPrefix}${formatDuration(ms)}`;
  const distinct = [...new Set(ladderMs)].sort((a, b) => a - b);

  const rungs: QueueDecl[] = distinct.map((ms) => ({
    name: rungName(ms),
    role: 'rung',
    delayMs: ms,
    arguments: {
      ...typeArgs,
      'x-message-ttl': ms,
      // Dead-letter straight to this pipeline's work queue through the default exchange, never
      // through the producers' exchange (which would re-deliver to every bound queue).
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': work,
      ...(quorum ? { 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' } : {}),
    },
  }));

  return {
    exchange: { name: spec.source.exchange, type: spec.source.exchangeType, durable: spec.source.durable, declare: spec.source.declare },
    queues: [{ name: work, role: 'work', arguments: { ...typeArgs } }, ...rungs, { name: parked, role: 'parked', arguments: { ...typeArgs } }],
    bindings: [{ exchange: spec.source.exchange, queue: work, routingKey: spec.source.routingKey }],
    work,
    parked,
    ladder: ladderMs.map(rungName),
    ladderMs,
    rungPrefix,
  };
}

/**
 * Where a notification goes after its `attempts`-th failed attempt (1-based): the rung for that
 * position, or `undefined` when the ladder is exhausted and it must be parked.
 */
export function rungAfterAttempt(plan: TopologyPlan, attempts: number): { queue: string; delayMs: number } | undefined {
  const i = attempts - 1;
  if (i < 0 || i >= plan.ladder.length) return undefined;
  return { queue: plan.ladder[i]!, delayMs: plan.ladderMs[i]! };
}

/** Rung queues that exist (known from a previous plan or status) but are no longer in this plan. */
export function drainingRungs(plan: TopologyPlan, known: Iterable<string>): string[] {
  const wanted = new Set(plan.queues.map((q) => q.name));
  return [...new Set(known)].filter((q) => q.startsWith(plan.rungPrefix) && !wanted.has(q)).sort();
}

/** Short text of the ladder for status and printer columns: `3s,30s,1m`. */
export function ladderSummary(spec: NotifyPipelineSpec): string {
  return spec.retry.ladder.map((d) => formatDuration(parseDuration(d)!)).join(',');
}
