/**
 * Zero loss: thousands of notifications to good, flaky and dead merchants all end delivered or
 * parked, counted exactly by id — first with an in-process worker, then with `ladder run` as a
 * child process killed with SIGKILL mid-run and restarted (duplicates allowed and counted,
 * losses not).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { stringify } from 'yaml';
import type { Connection } from 'rabbitmq-client';
import { HEADER } from '../../src/worker/index.js';
import { AMQP_URL, deleteTopology, drainQueue, planOf, testConnection, testPipeline, uniqueNamespace, waitFor } from './support/amqp.js';
import { CLI, ensureDist, REPO } from './support/dist.js';
import { answer, startMerchant, type Merchant } from './support/merchant.js';
import { runTeardown, runWorker } from './support/worker.js';

const N = 3000;
const conn = testConnection();
const teardown: Array<() => Promise<unknown>> = [];

/** good: success at once; flaky1/flaky2: fail that many times first; dead: always fail. */
const KINDS = ['good', 'good', 'good', 'good', 'good', 'good', 'flaky1', 'flaky2', 'flaky1', 'dead'] as const;
type Kind = (typeof KINDS)[number];
const FAILS: Record<Kind, number> = { good: 0, flaky1: 1, flaky2: 2, dead: Infinity };

interface Books {
  merchant: Merchant;
  attempts: Map<string, number>;
  /** Success answers per id (more than one = a duplicate delivery). */
  delivered: Map<string, number>;
}

async function startBooks(): Promise<Books> {
  const attempts = new Map<string, number>();
  const delivered = new Map<string, number>();
  const merchant = await startMerchant((a, res) => {
    const id = String(a.headers['webhook-id']);
    const n = (attempts.get(id) ?? 0) + 1;
    attempts.set(id, n);
    const kind = a.path.slice(1) as Kind;
    if (n <= FAILS[kind]) return answer(res, 500, 'fail');
    delivered.set(id, (delivered.get(id) ?? 0) + 1);
    answer(res, 200, 'success');
  });
  teardown.push(() => merchant.close());
  return { merchant, attempts, delivered };
}

function notifications(merchant: Merchant, tag: string): Array<{ id: string; kind: Kind; body: string }> {
  return Array.from({ length: N }, (_, i) => {
    const kind = KINDS[i % KINDS.length]!;
    return { id: `${tag}-${i}`, kind, body: `${merchant.url}/${kind}?out_trade_no=${i}&trade_status=TRADE_SUCCESS` };
  });
}

async function publishAll(c: Connection, exchange: string, items: Array<{ id: string; body: string }>): Promise<void> {
  const pub = c.createPublisher({ confirm: true });
  for (let i = 0; i < items.length; i += 250) {
    await Promise.all(items.slice(i, i + 250).map((m) => pub.send({ exchange, routingKey: 'notify', durable: true, messageId: m.id }, Buffer.from(m.body))));
  }
  await pub.close();
}

async function parkedIds(c: Connection, queue: string, into: Map<string, number>): Promise<void> {
  for (const m of await drainQueue(c, queue)) {
    const id = String(m.headers[HEADER.id]);
    into.set(id, (into.get(id) ?? 0) + 1);
  }
}

beforeAll(() => ensureDist());
afterEach(() => runTeardown(teardown));
afterAll(() => conn.close());

describe('zero loss', () => {
  test(`${N} notifications to good, flaky and dead merchants all end delivered or parked, exactly once each (in-process worker)`, async () => {
    const books = await startBooks();
    const pipeline = testPipeline(uniqueNamespace('zl'), { ladder: ['200ms', '400ms'], queues: 'quorum', concurrency: 64, timeout: '10s' });
    const w = await runWorker(conn, pipeline, teardown);
    const items = notifications(books.merchant, 'inproc');
    const t0 = Date.now();
    await publishAll(conn, w.plan.exchange.name, items);
    const publishedMs = Date.now() - t0;

    const terminal = () => w.events.filter((e) => e.outcome !== 'retry').length;
    await waitFor('every notification settled', () => terminal() >= N, 45_000, 100);
    const settledMs = Date.now() - t0;

    const parked = new Map<string, number>();
    await waitFor('parked messages drained', async () => {
      await parkedIds(conn, w.plan.parked, parked);
      return [...parked.values()].reduce((a, b) => a + b, 0) >= N / 10;
    });
    const dup = items.filter(({ id }) => (books.delivered.get(id) ?? 0) > 1).slice(0, 3).map(({ id }) => ({ id, events: w.events.filter((e) => e.id === id) }));
    const warnings = w.logs.filter((l) => !l.includes('"level":"info"') && !l.includes('"level":"debug"')).slice(0, 5);
    expect({ dup, warnings }).toEqual({ dup: [], warnings: [] });
    for (const { id, kind } of items) {
      if (kind === 'dead') {
        expect([id, parked.get(id), books.delivered.get(id)]).toEqual([id, 1, undefined]);
        expect(books.attempts.get(id)).toBe(3);
      } else {
        expect([id, books.delivered.get(id), parked.get(id)]).toEqual([id, 1, undefined]);
        expect(books.attempts.get(id)).toBe(FAILS[kind] + 1);
      }
    }
    expect(terminal()).toBe(N);
    const depth = await Promise.all(w.plan.queues.map((q) => conn.queueDeclare({ queue: q.name, passive: true }).then((s) => s.messageCount)));
    expect(depth).toEqual(w.plan.queues.map(() => 0));
    process.stderr.write(`[zero-loss in-process] ${N} notifications (${items.filter((i) => i.kind !== 'good').length} needing retries): published in ${publishedMs} ms, all settled in ${settledMs} ms; attempts ${[...books.attempts.values()].reduce((a, b) => a + b, 0)}\n`);
  });

  test(`ladder run killed with SIGKILL mid-run and restarted loses nothing: every one of ${N} ids delivered or parked at least once`, async () => {
    const books = await startBooks();
    const ns = uniqueNamespace('zk');
    const pipeline = testPipeline(ns, { ladder: ['200ms', '400ms'], queues: 'quorum', concurrency: 64, timeout: '10s' });
    const plan = planOf(pipeline);
    teardown.push(() => deleteTopology(conn, plan));
    const dir = mkdtempSync(join(tmpdir(), 'ladder-zl-'));
    teardown.push(async () => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'pipeline.yaml');
    writeFileSync(file, stringify({ apiVersion: pipeline.apiVersion, kind: pipeline.kind, metadata: { name: pipeline.metadata.name, namespace: ns }, spec: pipeline.spec }));

    const children: ChildProcess[] = [];
    teardown.push(async () => { for (const c of children) if (c.exitCode === null) c.kill('SIGKILL'); });
    const startChild = async (): Promise<ChildProcess> => {
      const child = spawn(process.execPath, [CLI, 'run', '-f', file, '--log-level', 'warn'], { cwd: REPO, env: { ...process.env, AMQP_URL }, stdio: ['ignore', 'ignore', 'pipe'] });
      children.push(child);
      let err = '';
      child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
      child.on('exit', (code, sig) => { if (code !== 0 && sig !== 'SIGKILL') process.stderr.write(`ladder run exited ${code} ${sig}: ${err.slice(-2000)}\n`); });
      // Ready = its consumer is attached to the work queue.
      await waitFor('ladder run consuming', async () => {
        const s = await conn.queueDeclare({ queue: plan.work, passive: true }).catch(() => undefined);
        return s !== undefined && s.consumerCount > 0;
      }, 20_000, 50);
      return child;
    };

    const first = await startChild();
    const items = notifications(books.merchant, 'kill');
    const t0 = Date.now();
    await publishAll(conn, plan.exchange.name, items);
    // Kill it hard while deliveries, retries and republishes are in flight.
    await waitFor('a third of the notifications attempted', () => books.attempts.size >= N / 3, 30_000, 20);
    const inFlightAtKill = books.attempts.size;
    first.kill('SIGKILL');
    await waitFor('first worker dead', () => first.exitCode !== null || first.signalCode !== null, 5000);
    await waitFor('broker noticed the dead consumer', async () => (await conn.queueDeclare({ queue: plan.work, passive: true })).consumerCount === 0, 10_000, 50);

    const second = await startChild();
    const parked = new Map<string, number>();
    const settled = () => items.filter(({ id }) => books.delivered.has(id) || parked.has(id)).length;
    await waitFor('every notification delivered or parked', async () => {
      await parkedIds(conn, plan.parked, parked);
      return settled() === N;
    }, 45_000, 100);
    const settledMs = Date.now() - t0;

    const lost = items.filter(({ id }) => !books.delivered.has(id) && !parked.has(id));
    expect(lost).toEqual([]);
    // A dead merchant never answers success, so its notifications can only end parked.
    for (const { id, kind } of items) if (kind === 'dead') expect(parked.has(id) && !books.delivered.has(id)).toBe(true);
    const duplicateDeliveries = [...books.delivered.values()].reduce((a, n) => a + n - 1, 0);
    const duplicateParks = [...parked.values()].reduce((a, n) => a + n - 1, 0);
    const both = items.filter(({ id }) => books.delivered.has(id) && parked.has(id)).length;

    second.kill('SIGTERM');
    await waitFor('second worker exits on SIGTERM', () => second.exitCode !== null, 15_000);
    expect(second.exitCode).toBe(0);
    process.stderr.write(`[zero-loss kill -9] ${N} notifications, killed after ${inFlightAtKill} attempted: 0 lost, ${duplicateDeliveries} duplicate deliveries, ${duplicateParks} duplicate parks, ${both} both delivered and parked; all settled in ${settledMs} ms\n`);
  });
});
