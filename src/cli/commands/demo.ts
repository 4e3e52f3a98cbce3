import { fileURLToPath } from 'node:url';
import { loadPipelineFile } from '../../api/index.js';
import { createLogger } from '../../common/index.js';
import { DemoError, runDemo } from '../../demo/demo.js';
import { PublishError } from '../../demo/publisher.js';
import { amqpUrlFrom, DEFAULT_AMQP_URL, parseFlags, parseLevel, UsageError, untilSignal, type Command } from '../command.js';

/** examples/demo.yaml of the installed package (dist/cli/commands/ → ../../../examples). */
const DEMO_FILE = fileURLToPath(new URL('../../../examples/demo.yaml', import.meta.url));

const HELP = `Usage: ladder demo [--count N] [--keep] [-f FILE] [--log-level warn]

Runs a whole retry story in about ten seconds against the RabbitMQ at $AMQP_URL
(default ${DEFAULT_AMQP_URL}): a demo merchant on 127.0.0.1, a worker for
examples/demo.yaml (ladder 1s, 2s, 4s) in a throwaway namespace demo-<random>, and a handful
of notifications. Some orders are confirmed at once, some after retries, one never: it is
parked. Prints one line per attempt, then a summary, deletes its queues and exits 0.

Options:
  -n, --count N      notifications to publish (default 6)
      --keep         leave the demo's queues and exchange on the broker
  -f, --file FILE    another pipeline file to demo (default examples/demo.yaml)
      --log-level L  worker logs on stderr: debug, info, warn (default), error`;

export const command: Command = {
  name: 'demo',
  summary: 'watch notifications being delivered, retried and parked (what `npm start` runs)',
  help: HELP,
  async run(argv) {
    const { values } = parseFlags(argv, {
      count: { type: 'string', short: 'n' },
      keep: { type: 'boolean', default: false },
      file: { type: 'string', short: 'f' },
      'log-level': { type: 'string', default: 'warn' },
    });
    const count = values.count === undefined ? 6 : Number(values.count);
    if (!Number.isInteger(count) || count < 1 || count > 1000) throw new UsageError(`--count must be an integer from 1 to 1000, got "${values.count}"`);
    const level = parseLevel(values['log-level']);
    const [pipeline] = await loadPipelineFile(values.file ?? DEMO_FILE);
    let result;
    try {
      result = await runDemo({
        pipeline: pipeline!,
        amqpUrl: amqpUrlFrom(process.env),
        logger: createLogger({ level }),
        count,
        keep: values.keep,
        print: (line) => process.stdout.write(line + '\n'),
        interrupted: untilSignal(),
      });
    } catch (e) {
      if (!(e instanceof DemoError) && !(e instanceof PublishError)) throw e;
      process.stderr.write(`ladder demo: ${e.message}\n`);
      return 1;
    }
    return result.ok ? 0 : 1;
  },
};
