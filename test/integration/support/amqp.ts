/** Shared helpers for integration tests against the real RabbitMQ at $AMQP_URL. */
import { randomBytes } from 'node:crypto';
import { Connection } from 'rabbitmq-client';
import { parsePipeline, type NotifyPipeline } from '../../../src/api/index.js';
import { planTopology, type TopologyPlan } from '../../../src/topology/index.js';

export const AMQP_URL = process.env['AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';

/** A namespace no other test uses: `t-<random>`. */
export function uniqueNamespace(prefix = 't'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** A pipeline for tests: millisecond ladder, classic queues unless told otherwise, loopback allowed. */
export function testPipeline(
  namespace: string,
  spec: { ladder?: string[]; target?: Record<string, unknown>; success?: Record<string, unknown>; timeout?: string; queues?: 'quorum' | 'classic'; concurrency?: number; allowPrivateNetworks?: boolean; exchange?: string; declareExchange?: boolean; signing?: boolean },
): NotifyPipeline {
  return parsePipeline({
    apiVersion: 'ladder.dev/v1alpha1',
    kind: 'NotifyPipeline',
    metadata: { name: 'p', namespace },
    spec: {
      source: { exchange: spec.exchange ?? `${namespace}.notify`, exchangeType: 'topic', durable: false, routingKey: 'notify', declare: spec.declareExchange ?? true },
      retry: { ladder: spec.ladder ?? ['200ms', '400ms'] },
      delivery: {
        target: spec.target ?? { fromBody: true },
        timeout: spec.timeout ?? '2s',
        success: spec.success ?? { preset: 'alipay' },
        allowPrivateNetworks: spec.allowPrivateNetworks ?? true,
        ...(spec.signing ? { signing: { secretRef: { name: 'webhook' } } } : {}),
      },
      queues: { type: spec.queues ?? 'classic' },
      workers: { replicas: 1, concurrency: spec.concurrency ?? 16 },
    },
  });
}

export function planOf(p: NotifyPipeline): TopologyPlan {
  return planTopology({ namespace: p.metadata.namespace, name: p.metadata.name }, p.spec);
}

/** A connection for the test itself (publishing, inspecting, cleaning up). */
export function testConnection(): Connection {
  const conn = new Connection({ url: AMQP_URL, connectionName: 'ladder-test', retryLow: 100, retryHigh: 1000 });
  conn.on('error', () => {});
  return conn;
}

/** Delete every queue of a plan and its exchange; used in afterAll/afterEach. */
export async function deleteTopology(conn: Connection, plan: TopologyPlan, extraQueues: string[] = []): Promise<void> {
  for (const q of [...plan.queues.map((x) => x.name), ...extraQueues]) await conn.queueDelete({ queue: q }).catch(() => {});
  if (plan.exchange.declare) await conn.exchangeDelete({ exchange: plan.exchange.name }).catch(() => {});
}

/** Poll `check` until it returns a value other than undefined/false, or fail after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** All messages currently in a queue (basic.get until empty; each is acked, i.e. removed). */
export async function drainQueue(conn: Connection, queue: string): Promise<Array<{ headers: Record<string, unknown>; body: unknown; messageId?: string; contentType?: string }>> {
  const out = [];
  for (;;) {
    const m = await conn.basicGet({ queue, noAck: true });
    if (m === undefined) return out;
    out.push({ headers: (m.headers ?? {}) as Record<string, unknown>, body: m.body, messageId: m.messageId, contentType: m.contentType });
  }
}
