#!/usr/bin/env node
/**
 * `ladder` command line. Each subcommand lives in `commands/<name>.ts` and exports
 * `command: Command`. Exit codes: 0 ok, 1 runtime failure, 2 invalid input (bad file or flags).
 */
import { SpecError } from '../api/index.js';
import { commands } from './commands/index.js';
import { UsageError, type Command } from './command.js';

function usage(all: Command[]): string {
  const width = Math.max(...all.map((c) => c.name.length));
  return [
    'ladder: reliable asynchronous callbacks on RabbitMQ',
    '',
    'Usage: ladder <command> [options]',
    '',
    'Commands:',
    ...all.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `ladder <command> --help` for the options of one command.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage(commands) + '\n');
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === 'version') {
    process.stdout.write('ladder 0.1.0\n');
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (command === undefined) {
    process.stderr.write(`ladder: unknown command "${name}"\n\n${usage(commands)}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.help + '\n');
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    if (e instanceof SpecError || e instanceof UsageError) {
      process.stderr.write(`ladder ${name}: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`ladder ${name}: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`ladder: ${String(e)}\n`);
    process.exitCode = 1;
  },
);
