/** `ladder worker` and `ladder run` as the operator's Deployment and users run them: a real child process. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { stringify } from 'yaml';
import type { NotifyPipeline } from '../../src/api/index.js';
import { AMQP_URL, deleteTopology, planOf, testConnection, testPipeline, uniqueNamespace, waitFor } from './support/amqp.js';
import { CLI, ensureDist, REPO } from './support/dist.js';
import { answer, startMerchant, type Merchant } from './support/merchant.js';
import { runTeardown } from './support/worker.js';

const conn = testConnection();
const teardown: Array<() => Promise<unknown>> = [];
let merchant: Merchant;
let dir: string;

beforeAll(async () => {
  ensureDist();
  dir = mkdtempSync(join(tmpdir(), 'ladder-cli-'));
  merchant = await startMerchant((_a, res) => answer(res, 200, 'success'));
});
afterEach(() => runTeardown(teardown));
afterAll(async () => {
  await merchant.close();
  await conn.close();
  rmSync(dir, { recursive: true, force: true });
});

function writePipelines(name: string, ...ps: NotifyPipeline[]): string {
  const file = join(dir, name);
  writeFileSync(file, ps.map((p) => stringify({ apiVersion: p.apiVersion, kind: p.kind, metadata: { name: p.metadata.name, namespace: p.metadata.namespace }, spec: p.spec })).join('---\n'));
  return file;
}

interface Running { child: ChildProcess; stderr: () => string; healthPort: () => Promise<number> }

function start(args: string[], env: Record<string, string> = {}): Running {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO, env: { ...process.env, AMQP_URL, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  teardown.push(async () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  return {
    child,
    stderr: () => err,
    healthPort: () => waitFor('health port in the log', () => {
      const m = /"msg":"health server listening","port":(\d+)/.exec(err);
      return m ? Number(m[1]) : undefined;
    }, 15_000),
  };
}

const exited = (c: ChildProcess) => new Promise<number | null>((r) => (c.exitCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code))));

async function get(port: number, path: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  await res.arrayBuffer();
  return res.status;
}

describe('ladder worker', () => {
  test('serves /healthz and /readyz, delivers, and exits 0 on SIGTERM', async () => {
    const p = testPipeline(uniqueNamespace('cli'), {});
    const plan = planOf(p);
    teardown.push(() => deleteTopology(conn, plan));
    const w = start(['worker', '-f', writePipelines('one.yaml', p), '--health-port', '0']);
    const port = await w.healthPort();
    expect(await get(port, '/healthz')).toBe(200);
    await waitFor('ready', async () => (await get(port, '/readyz')) === 200, 15_000, 50);

    const pub = conn.createPublisher({ confirm: true });
    await pub.send({ exchange: plan.exchange.name, routingKey: 'notify', messageId: 'cli-1' }, Buffer.from(`${merchant.url}/n?a=1`));
    await pub.close();
    await waitFor('delivered', () => merchant.arrivals.some((a) => a.headers['webhook-id'] === 'cli-1'));
    await waitFor('attempt logged', () => w.stderr().includes('"outcome":"delivered"'));

    w.child.kill('SIGTERM');
    expect(await exited(w.child)).toBe(0);
    expect(w.stderr()).toContain('"msg":"stopped"');
    expect(w.stderr()).not.toContain('guest:guest');
  });

  test('is alive but not ready while the broker is unreachable, and still stops cleanly', async () => {
    const p = testPipeline(uniqueNamespace('cli'), {});
    const w = start(['worker', '-f', writePipelines('down.yaml', p), '--health-port', '0'], { AMQP_URL: 'amqp://guest:topsecret@127.0.0.1:1' });
    const port = await w.healthPort();
    expect(await get(port, '/healthz')).toBe(200);
    expect(await get(port, '/readyz')).toBe(503);
    await waitFor('connection error logged', () => w.stderr().includes('ECONNREFUSED'));
    expect(w.stderr()).not.toContain('topsecret');
    w.child.kill('SIGTERM');
    expect(await exited(w.child)).toBe(0);
  });

  test('refuses a file with two pipelines (exit 2)', () => {
    const file = writePipelines('two.yaml', testPipeline(uniqueNamespace('cli'), {}), testPipeline(uniqueNamespace('cli'), {}));
    const r = spawnSync(process.execPath, [CLI, 'worker', '-f', file, '--health-port', '0'], { cwd: REPO, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/holds 2 NotifyPipelines/);
  });
});

describe('ladder run', () => {
  test('refuses a pipeline that sets signing when $LADDER_SIGNING_SECRET is empty (exit 2)', () => {
    const file = writePipelines('signed.yaml', testPipeline(uniqueNamespace('cli'), { signing: true }));
    const r = spawnSync(process.execPath, [CLI, 'run', '-f', file], { cwd: REPO, encoding: 'utf8', env: { ...process.env, AMQP_URL, LADDER_SIGNING_SECRET: '' } });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/LADDER_SIGNING_SECRET/);
  });

  test('runs every pipeline in the file and stops on SIGINT with exit 0', async () => {
    const a = testPipeline(uniqueNamespace('cli'), {});
    const b = testPipeline(uniqueNamespace('cli'), { success: { preset: 'http-2xx' } });
    for (const p of [a, b]) teardown.push(() => deleteTopology(conn, planOf(p)));
    const w = start(['run', '-f', writePipelines('two-run.yaml', a, b)]);
    await waitFor('both consuming', async () => {
      const counts = await Promise.all([a, b].map((p) => conn.queueDeclare({ queue: planOf(p).work, passive: true }).then((s) => s.consumerCount, () => 0)));
      return counts.every((c) => c > 0);
    }, 15_000, 50);
    w.child.kill('SIGINT');
    expect(await exited(w.child)).toBe(0);
  });
});
