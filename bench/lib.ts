/** Shared helpers of the benchmark sections: timing, percentiles, RSS, broker housekeeping. */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Connection } from 'rabbitmq-client';

export const AMQP_URL = process.env['AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';

export interface Table {
  columns: string[];
  rows: Array<Array<string | number>>;
}

export interface SectionResult {
  /** Machine-readable numbers, written to results.json. */
  results: Record<string, unknown>;
  /** What RESULTS.md shows. */
  table: Table;
  /** One-line verdicts against the targets, e.g. "Ladder p99 within 100 ms of the rung: yes". */
  verdicts: string[];
}

export interface Section {
  name: string;
  title: string;
  run(ctx: { log: (line: string) => void }): Promise<SectionResult>;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export const round = (n: number, digits = 0): number => Number(n.toFixed(digits));

/** VmRSS and VmHWM (peak) of a process in MiB, from /proc/<pid>/status. */
export function rssMiB(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/** Poll `check` until it returns true or the deadline passes (then throw with `what`). */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A broker connection for a section's own setup and teardown. */
export async function broker(): Promise<Connection> {
  const rabbit = new Connection({ url: AMQP_URL, retryLow: 100, retryHigh: 500 });
  rabbit.on('error', () => {});
  await rabbit.onConnect(5000, true);
  return rabbit;
}

export async function deleteAll(rabbit: Connection, queues: string[], exchanges: string[] = []): Promise<void> {
  for (const queue of queues) await rabbit.queueDelete({ queue }).catch(() => {});
  for (const exchange of exchanges) await rabbit.exchangeDelete({ exchange }).catch(() => {});
}

export async function messageCount(rabbit: Connection, queue: string): Promise<{ messages: number; consumers: number }> {
  const r = await rabbit.queueDeclare({ queue, passive: true });
  return { messages: r.messageCount, consumers: r.consumerCount };
}

/** Start bench/merchant-process.js (compiled next to this file) and resolve with its URL and a stop function. */
export async function merchantProcess(): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./merchant-process.js', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.once('exit', (code) => reject(new Error(`merchant process exited with ${code}`)));
  });
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
