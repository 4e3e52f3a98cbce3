import { stringify } from 'yaml';
import { loadPipelineFile } from '../../api/index.js';
import { planTopology } from '../../topology/index.js';
import { parseFlags, UsageError, type Command } from '../command.js';

export const command: Command = {
  name: 'validate',
  summary: 'check a NotifyPipeline file and print the RabbitMQ topology it plans',
  help: 'Usage: ladder validate -f FILE\n\nExits 0 and prints the plan when the file is valid; exits 2 naming each bad field otherwise.',
  async run(argv) {
    const { values } = parseFlags(argv, { file: { type: 'string', short: 'f' } });
    if (values.file === undefined) throw new UsageError('-f FILE is required');
    for (const p of await loadPipelineFile(values.file)) {
      const plan = planTopology({ namespace: p.metadata.namespace, name: p.metadata.name }, p.spec);
      process.stdout.write(`# ${p.metadata.namespace}/${p.metadata.name}: valid\n`);
      process.stdout.write(stringify({ exchange: plan.exchange, queues: plan.queues, bindings: plan.bindings, ladder: plan.ladder }) + '---\n');
    }
    return 0;
  },
};
