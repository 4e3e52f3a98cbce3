/**
 * Delay accuracy: how late a retry comes back, per rung, for
 *   - Ladder's design: one queue per rung with its own x-message-ttl (the planner's quorum rungs,
 *     declared by the topology adapter), dead-lettering to the work queue;
 *   - the seed's design: one delay queue, per-message `expiration`, dead-lettering to a work queue.
 * Messages of all rungs are interleaved (3s, 1s, 300ms, 3s, ...). RabbitMQ expires messages only
 * at the head of a queue, so in the seed's design a short delay waits behind a long one.
 * Lateness = arrival in the work queue − publish time − intended delay.
 */
import { randomBytes } from 'node:crypto';
import { ConsumerStatus, type Connection } from 'rabbitmq-client';
import { formatDuration, parsePipeline } from '../../src/api/index.js';
import { createLogger } from '../../src/common/index.js';
import { createTopologyClient, planTopology } from '../../src/topology/index.js';
import { AMQP_URL, broker, deleteAll, percentile, round, waitFor, type Section } from '../lib.js';

const RUNGS_MS = [300, 1_000, 3_000];
const PER_RUNG = Number(process.env['BENCH_DELAY_PER_RUNG'] ?? 60);
const PUBLISH_EVERY_MS = 30;

interface Lateness {
  p50: number;
  p99: number;
  max: number;
  n: number;
}

/**
 * Publish PER_RUNG messages per rung, interleaved longest first, via `target(delay)`, and collect
 * each one's lateness when it reaches `workQueue`.
 */
async function measure(rabbit: Connection, workQueue: string, target: (delayMs: number) => { routingKey: string; expiration?: string }): Promise<Map<number, Lateness>> {
  const late = new Map<number, number[]>(RUNGS_MS.map((d) => [d, []]));
  const total = RUNGS_MS.length * PER_RUNG;
  let arrived = 0;
  const sub = rabbit.createConsumer({ queue: workQueue, queueOptions: { passive: true }, qos: { prefetchCount: 100 } }, async (msg) => {
    const sent = Number(msg.headers?.['bench-sent']);
    const delay = Number(msg.headers?.['bench-delay']);
    late.get(delay)?.push(Date.now() - sent - delay);
    arrived++;
    return ConsumerStatus.ACK;
  });
  sub.on('error', (e) => {
    throw e;
  });
  const pub = rabbit.createPublisher({ confirm: true });
  try {
    const order = [...RUNGS_MS].sort((a, b) => b - a);
    const start = Date.now();
    for (let i = 0; i < total; i++) {
      const due = start + i * PUBLISH_EVERY_MS;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      const delay = order[i % order.length]!;
      const { routingKey, expiration } = target(delay);
      await pub.send({ exchange: '', routingKey, durable: true, headers: { 'bench-sent': Date.now(), 'bench-delay': delay }, ...(expiration !== undefined ? { expiration } : {}) }, 'x');
    }
    await waitFor(`${total} delayed messages to come back`, () => arrived >= total, 60_000);
  } finally {
    await pub.close();
    await sub.close();
  }
  const out = new Map<number, Lateness>();
  for (const [d, values] of late) {
    const sorted = values.sort((a, b) => a - b);
    out.set(d, { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1]!, n: sorted.length });
  }
  return out;
}

export const delay: Section = {
  name: 'delay',
  title: 'Delay accuracy: per-rung queues (Ladder) vs one delay queue with per-message TTL (seed)',
  async run({ log }) {
    const id = randomBytes(3).toString('hex');
    const rabbit = await broker();
    const pipeline = parsePipeline({
      apiVersion: 'ladder.dev/v1alpha1',
      kind: 'NotifyPipeline',
      metadata: { name: 'delay', namespace: `bench-${id}` },
      spec: {
        source: { exchange: `bench.${id}.ex`, routingKey: 'notify' },
        retry: { ladder: RUNGS_MS.map(formatDuration) },
        delivery: { target: { fromBody: true } },
        queues: { type: 'quorum' },
      },
    });
    const plan = planTopology({ namespace: pipeline.metadata.namespace, name: pipeline.metadata.name }, pipeline.spec);
    const seedDelay = `bench.${id}.seed.delay`;
    const seedWork = `bench.${id}.seed.work`;
    try {
      const topo = createTopologyClient({ url: AMQP_URL, logger: createLogger({ level: 'error' }) });
      await topo.apply(plan);
      await topo.close();
      const rungOf = new Map(plan.queues.filter((q) => q.role === 'rung').map((q) => [q.delayMs!, q.name]));
      const ladder = await measure(rabbit, plan.work, (d) => ({ routingKey: rungOf.get(d)! }));
      log(`ladder: ${[...ladder].map(([d, l]) => `${formatDuration(d)} p99 ${l.p99} ms`).join(', ')}`);

      // The seed's topology: classic queues, as the seed declares them.
      await rabbit.queueDeclare({ queue: seedWork, durable: true });
      await rabbit.queueDeclare({ queue: seedDelay, durable: true, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': seedWork } });
      const seed = await measure(rabbit, seedWork, (d) => ({ routingKey: seedDelay, expiration: String(d) }));
      log(`seed:   ${[...seed].map(([d, l]) => `${formatDuration(d)} p99 ${l.p99} ms`).join(', ')}`);

      const worstLadderP99 = Math.max(...[...ladder.values()].map((l) => l.p99));
      const byRung = (m: Map<number, Lateness>) => Object.fromEntries([...m].map(([d, l]) => [formatDuration(d), { p50Ms: l.p50, p99Ms: l.p99, maxMs: l.max, n: l.n }]));
      return {
        results: {
          rungs: RUNGS_MS.map(formatDuration),
          messagesPerRung: PER_RUNG,
          publishEveryMs: PUBLISH_EVERY_MS,
          ladderQueueType: 'quorum',
          seedQueueType: 'classic',
          ladderLatenessMs: byRung(ladder),
          seedLatenessMs: byRung(seed),
          worstLadderP99Ms: worstLadderP99,
          seedP99OverLadderP99: Object.fromEntries(RUNGS_MS.map((d) => [formatDuration(d), round(seed.get(d)!.p99 / Math.max(1, ladder.get(d)!.p99), 1)])),
        },
        table: {
          columns: ['rung', 'Ladder p50 late (ms)', 'Ladder p99 late (ms)', 'seed p50 late (ms)', 'seed p99 late (ms)', 'seed p99 / Ladder p99'],
          rows: RUNGS_MS.map((d) => {
            const l = ladder.get(d)!;
            const s = seed.get(d)!;
            return [formatDuration(d), l.p50, l.p99, s.p50, s.p99, (s.p99 / Math.max(1, l.p99)).toFixed(1)];
          }),
        },
        verdicts: [`Ladder p99 lateness ≤ 100 ms on every rung (worst ${worstLadderP99} ms): ${worstLadderP99 <= 100 ? 'met' : 'NOT met'}`],
      };
    } finally {
      await deleteAll(rabbit, [...plan.queues.map((q) => q.name), seedDelay, seedWork], [plan.exchange.name]);
      await rabbit.close();
    }
  },
};
