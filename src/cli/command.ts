import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { NotifyPipeline } from '../api/index.js';
import type { LogLevel } from '../common/index.js';

export interface Command {
  name: string;
  summary: string;
  help: string;
  /** Resolves to the exit code. Long-running commands resolve when they have shut down. */
  run(argv: string[]): Promise<number>;
}

/** Bad flags or arguments: exit code 2 with the message. */
export class UsageError extends Error {
  readonly code = 'LADDER_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: false, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Resolve when SIGINT or SIGTERM arrives (once); used by long-running commands. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

/** The broker when $AMQP_URL is unset or empty: the local RabbitMQ of a developer machine. */
export const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';

export function amqpUrlFrom(env: NodeJS.ProcessEnv): string {
  return env['AMQP_URL'] || DEFAULT_AMQP_URL;
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export function parseLevel(text: string | undefined): LogLevel {
  const level = (text ?? 'info') as LogLevel;
  if (!LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LEVELS.join(', ')}`);
  return level;
}

/** A flag that must be a positive integer; undefined when absent. */
export function positiveInt(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, got "${text}"`);
  return n;
}

/** The pipeline named by --pipeline, or the file's first one. */
export function pickPipeline(pipelines: NotifyPipeline[], name: string | undefined, file: string): NotifyPipeline {
  if (name === undefined) return pipelines[0]!;
  const found = pipelines.find((p) => p.metadata.name === name);
  if (found === undefined) throw new UsageError(`${file} holds no NotifyPipeline named "${name}" (it has ${pipelines.map((p) => p.metadata.name).join(', ')})`);
  return found;
}
