import type { NotifyPipeline } from '../../api/index.js';
import { loadPipelineFile } from '../../api/index.js';
import { createLogger, redact, type Logger } from '../../common/index.js';
import { startHealthServer, Worker, WorkerClosedError, type HealthServer } from '../../worker/index.js';
import { amqpUrlFrom, DEFAULT_AMQP_URL, parseFlags, parseLevel, UsageError, untilSignal, type Command } from '../command.js';


const HELP = `Usage: ladder run -f FILE [--health-port N] [--log-level LEVEL]

Declares the RabbitMQ topology of every NotifyPipeline in FILE and runs a worker for each,
until SIGTERM or SIGINT (then finishes in-flight deliveries and exits 0).

Options:
  -f, --file FILE      NotifyPipeline YAML (several documents allowed)
  --health-port N      serve GET /healthz and /readyz on this port (default: none)
  --log-level LEVEL    debug | info | warn | error (default info)

Environment:
  AMQP_URL               broker (default ${DEFAULT_AMQP_URL})
  LADDER_SIGNING_SECRET  Standard Webhooks secret (whsec_...); required when a pipeline sets
                         delivery.signing, and then used to sign every callback`;

export interface RunOptions {
  pipelines: NotifyPipeline[];
  healthPort?: number | undefined;
  logger: Logger;
  env: NodeJS.ProcessEnv;
  /** Resolves when the process should stop. */
  stop: Promise<unknown>;
}

/** Run one Worker per pipeline until `stop` resolves; the shared body of `ladder run` and `ladder worker`. */
export async function runWorkers(o: RunOptions): Promise<number> {
  const amqpUrl = amqpUrlFrom(o.env);
  const secret = o.env['LADDER_SIGNING_SECRET'] || undefined;
  for (const p of o.pipelines) {
    if (p.spec.delivery.signing !== undefined && secret === undefined) {
      throw new UsageError(`${p.metadata.namespace}/${p.metadata.name} sets delivery.signing but $LADDER_SIGNING_SECRET is empty`);
    }
  }
  const workers = o.pipelines.map((pipeline) => new Worker({ pipeline, amqpUrl, logger: o.logger, ...(secret ? { signingSecret: secret } : {}) }));
  let health: HealthServer | undefined;
  if (o.healthPort !== undefined) {
    health = await startHealthServer({
      port: o.healthPort,
      ready: () => {
        const states = workers.map((w) => w.health());
        return { ok: states.every((s) => s.connected && s.consuming), detail: states };
      },
    });
    o.logger.info('health server listening', { port: health.port });
  }
  o.logger.info('starting workers', { broker: redact(amqpUrl), pipelines: o.pipelines.map((p) => `${p.metadata.namespace}/${p.metadata.name}`) });
  let stopping = false;
  const closeAll = () => Promise.all(workers.map((w) => w.close()));
  void o.stop.then(() => {
    stopping = true;
    o.logger.info('stopping: finishing in-flight deliveries');
  });
  try {
    await Promise.race([Promise.all(workers.map((w) => w.start())), o.stop]);
    if (!stopping) {
      o.logger.info('workers running', { count: workers.length });
      await o.stop;
    }
  } catch (e) {
    if (!(e instanceof WorkerClosedError)) {
      await closeAll();
      await health?.close();
      throw e;
    }
  }
  await closeAll();
  await health?.close();
  o.logger.info('stopped');
  return 0;
}

export function parsePort(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--health-port: "${text}" is not a port number`);
  return n;
}

export const command: Command = {
  name: 'run',
  summary: 'run workers for the NotifyPipelines in a file (standalone, no Kubernetes)',
  help: HELP,
  async run(argv) {
    const { values } = parseFlags(argv, { file: { type: 'string', short: 'f' }, 'health-port': { type: 'string' }, 'log-level': { type: 'string' } });
    if (values.file === undefined) throw new UsageError('-f FILE is required');
    const logger = createLogger({ level: parseLevel(values['log-level']) });
    const healthPort = parsePort(values['health-port']);
    const stop = untilSignal();
    const pipelines = await loadPipelineFile(values.file);
    return runWorkers({ pipelines, healthPort, logger, env: process.env, stop });
  },
};
