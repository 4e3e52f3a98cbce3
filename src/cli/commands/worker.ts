import { loadPipelineFile } from '../../api/index.js';
import { createLogger } from '../../common/index.js';
import { DEFAULT_AMQP_URL, parseFlags, parseLevel, UsageError, untilSignal, type Command } from '../command.js';
import { parsePort, runWorkers } from './run.js';

const HELP = `Usage: ladder worker -f FILE [--health-port 8080] [--log-level LEVEL]

Runs the worker of exactly one NotifyPipeline; this is what the operator's Deployment runs.
GET /healthz answers 200 while the process lives; GET /readyz answers 200 only while the
worker is connected to RabbitMQ and consuming. SIGTERM/SIGINT: finish in-flight deliveries, exit 0.

Options:
  -f, --file FILE      NotifyPipeline YAML with one pipeline
  --health-port N      health port (default 8080)
  --log-level LEVEL    debug | info | warn | error (default info)

Environment:
  AMQP_URL               broker (default ${DEFAULT_AMQP_URL})
  LADDER_SIGNING_SECRET  Standard Webhooks secret (whsec_...) when the pipeline sets delivery.signing`;

export const command: Command = {
  name: 'worker',
  summary: 'run the worker of one NotifyPipeline with health endpoints (what the operator deploys)',
  help: HELP,
  async run(argv) {
    const { values } = parseFlags(argv, { file: { type: 'string', short: 'f' }, 'health-port': { type: 'string' }, 'log-level': { type: 'string' } });
    if (values.file === undefined) throw new UsageError('-f FILE is required');
    const logger = createLogger({ level: parseLevel(values['log-level']) });
    const healthPort = parsePort(values['health-port'] ?? '8080');
    const stop = untilSignal();
    const pipelines = await loadPipelineFile(values.file);
    if (pipelines.length !== 1) throw new UsageError(`${values.file} holds ${pipelines.length} NotifyPipelines; ladder worker runs exactly one (use ladder run for several)`);
    return runWorkers({ pipelines, healthPort, logger: logger.child({ pod: process.env['POD_NAME'] }), env: process.env, stop });
  },
};
