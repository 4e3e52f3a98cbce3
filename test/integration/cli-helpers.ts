/**
 * Helpers for the CLI tests: they spawn the built CLI (`node dist/cli/main.js`) on the same
 * Node as the tests, against the real local RabbitMQ.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from 'rabbitmq-client';

export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'dist', 'cli', 'main.js');
export const AMQP_URL = process.env['AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';

export const suffix = (): string => randomBytes(4).toString('hex');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Build dist/ when it is missing or older than src/ (`npm test` builds first; `npm run jest` may not). */
export function ensureBuilt(): void {
  let built = 0;
  try {
    built = statSync(CLI).mtimeMs;
  } catch {
    built = 0;
  }
  if (built >= newestMtime(join(ROOT, 'src'))) return;
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build failed:\n${r.stdout}${r.stderr}`);
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `ladder ARGS`; resolves when it exits (killed after timeoutMs). */
export function runCli(args: string[], options: { env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd ?? ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** A temporary folder, removed by the returned cleanup. */
export async function tempDir(): Promise<{ dir: string; write(name: string, text: string): Promise<string>; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'ladder-cli-'));
  return {
    dir,
    async write(name, text) {
      const p = join(dir, name);
      await writeFile(p, text);
      return p;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** An AMQP connection that remembers the queues and exchanges a test creates and deletes them. */
export class BrokerFixture {
  readonly rabbit = new Connection({ url: AMQP_URL, retryLow: 100, retryHigh: 500 });
  private readonly queues = new Set<string>();
  private readonly exchanges = new Set<string>();

  async exchange(name: string, type: 'topic' | 'direct' | 'fanout' | 'headers', durable: boolean): Promise<void> {
    this.exchanges.add(name);
    await this.rabbit.exchangeDeclare({ exchange: name, type, durable });
  }

  async queue(name: string, bind?: { exchange: string; routingKey: string }): Promise<void> {
    this.queues.add(name);
    await this.rabbit.queueDeclare({ queue: name, durable: true });
    if (bind !== undefined) await this.rabbit.queueBind({ queue: name, exchange: bind.exchange, routingKey: bind.routingKey });
  }

  /** Queues created by the code under test, deleted at cleanup too. */
  track(...queues: string[]): void {
    for (const q of queues) this.queues.add(q);
  }

  /** Exchanges created by the code under test, deleted at cleanup too. */
  trackExchange(...exchanges: string[]): void {
    for (const e of exchanges) this.exchanges.add(e);
  }

  async count(queue: string): Promise<number> {
    return (await this.rabbit.queueDeclare({ queue, passive: true })).messageCount;
  }

  async cleanup(): Promise<void> {
    for (const q of this.queues) await this.rabbit.queueDelete({ queue: q }).catch(() => {});
    for (const e of this.exchanges) await this.rabbit.exchangeDelete({ exchange: e }).catch(() => {});
    await this.rabbit.close();
  }
}
