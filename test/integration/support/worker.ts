/** Run a Worker for a test pipeline against the real broker, with teardown registered. */
import { randomUUID } from 'node:crypto';
import type { Connection, Publisher } from 'rabbitmq-client';
import type { NotifyPipeline } from '../../../src/api/index.js';
import { createLogger, type Logger } from '../../../src/common/index.js';
import type { TopologyPlan } from '../../../src/topology/index.js';
import { Worker, type OutcomeEvent, type WorkerOptions } from '../../../src/worker/index.js';
import { AMQP_URL, deleteTopology, planOf, waitFor } from './amqp.js';

export interface RunningWorker {
  worker: Worker;
  plan: TopologyPlan;
  events: OutcomeEvent[];
  logs: string[];
  /** Publish like a producer does: to the source exchange with the routing key. Returns the message id. */
  publish(body: string | Buffer, props?: { messageId?: string; headers?: Record<string, unknown>; contentType?: string }): Promise<string>;
  /** Wait for the outcome events of one id until `done` holds. */
  until(id: string, done: (events: OutcomeEvent[]) => boolean, timeoutMs?: number): Promise<OutcomeEvent[]>;
}

export async function runWorker(
  conn: Connection,
  pipeline: NotifyPipeline,
  teardown: Array<() => Promise<unknown>>,
  extra: Partial<WorkerOptions> = {},
): Promise<RunningWorker> {
  const plan = planOf(pipeline);
  const events: OutcomeEvent[] = [];
  const logs: string[] = [];
  const logger: Logger = createLogger({ level: 'debug', write: (l) => logs.push(l) });
  const worker = new Worker({ pipeline, amqpUrl: AMQP_URL, logger, onOutcome: (e) => events.push(e), ...extra });
  teardown.push(() => deleteTopology(conn, plan));
  teardown.push(() => worker.close());
  await worker.start();
  const publisher: Publisher = conn.createPublisher({ confirm: true });
  teardown.push(() => publisher.close());
  return {
    worker,
    plan,
    events,
    logs,
    async publish(body, props = {}) {
      const messageId = props.messageId ?? randomUUID();
      await publisher.send(
        { exchange: plan.exchange.name, routingKey: pipeline.spec.source.routingKey, mandatory: true, durable: true, messageId, ...(props.headers ? { headers: props.headers } : {}), ...(props.contentType ? { contentType: props.contentType } : {}) },
        typeof body === 'string' ? Buffer.from(body) : body,
      );
      return messageId;
    },
    until(id, done, timeoutMs = 10_000) {
      return waitFor(`outcomes of ${id}`, () => {
        const mine = events.filter((e) => e.id === id);
        return done(mine) ? mine : undefined;
      }, timeoutMs);
    },
  };
}

/** Run teardown functions in reverse order of registration. */
export async function runTeardown(teardown: Array<() => Promise<unknown>>): Promise<void> {
  for (const f of teardown.splice(0).reverse()) await f().catch(() => {});
}
