/**
 * Worker memory with a large backlog: `ladder run -f` as a child process (the way it runs in a
 * pod), a slow merchant (answers after 1 s) so 100,000 notifications pile up in RabbitMQ, and the
 * child's RSS sampled from /proc/<pid>/status — idle first, then while the backlog is published
 * and waits. The worker holds at most `concurrency` messages (AMQP prefetch), so its memory must
 * not grow with the queue.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePipeline } from '../../src/api/index.js';
import { startMerchant } from '../../src/demo/merchant.js';
import { buildNotification, type Notification } from '../../src/demo/notifications.js';
import { publishNotifications } from '../../src/demo/publisher.js';
import { planTopology } from '../../src/topology/index.js';
import { AMQP_URL, broker, deleteAll, messageCount, round, rssMiB, waitFor, type Section } from '../lib.js';

const BACKLOG = Number(process.env['BENCH_MEMORY_BACKLOG'] ?? 100_000);
const CONCURRENCY = 64;
const MERCHANT_DELAY_MS = 1_000;
const HOLD_MS = 15_000;
const IDLE_MS = 3_000;
const BODY_BYTES = 1_024;
const LIMIT_MIB = 150;

/** The repository root, from .tmp/bench-build/bench/sections/ (compiled) — where dist/cli/main.js lives. */
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export const memory: Section = {
  name: 'memory',
  title: `Worker RSS with ${BACKLOG.toLocaleString('en')} notifications waiting vs idle`,
  async run({ log }) {
    const id = randomBytes(3).toString('hex');
    const merchant = await startMerchant({ answer: () => ({ status: 200, body: 'success', delayMs: MERCHANT_DELAY_MS }) });
    const rabbit = await broker();
    const doc = {
      apiVersion: 'ladder.dev/v1alpha1',
      kind: 'NotifyPipeline',
      metadata: { name: 'memory', namespace: `bench-${id}` },
      spec: {
        source: { exchange: `bench.${id}.ex`, exchangeType: 'topic', durable: true, routingKey: 'notify' },
        retry: { ladder: ['1h'] },
        delivery: { target: { url: merchant.url }, success: { preset: 'http-2xx' }, allowPrivateNetworks: true, timeout: '10s' },
        queues: { type: 'quorum' },
        workers: { concurrency: CONCURRENCY },
      },
    };
    const pipeline = parsePipeline(doc);
    const plan = planTopology({ namespace: pipeline.metadata.namespace, name: pipeline.metadata.name }, pipeline.spec);
    const dir = await mkdtemp(join(tmpdir(), 'ladder-bench-'));
    const file = join(dir, 'pipeline.yaml');
    await writeFile(file, JSON.stringify(doc)); // JSON is YAML
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), 'run', '-f', file, '--log-level', 'warn'], {
      env: { ...process.env, AMQP_URL },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const pid = child.pid!;
    const samples: Array<{ t: number; rss: number }> = [];
    const sample = () => samples.push({ t: Date.now(), rss: rssMiB(pid).rss });
    try {
      await waitFor('the worker to consume', async () => {
        if (child.exitCode !== null) throw new Error(`ladder run exited with ${child.exitCode}: ${stderr}`);
        return (await messageCount(rabbit, plan.work).catch(() => ({ consumers: 0 }))).consumers > 0;
      }, 30_000, 100);

      const idleStart = Date.now();
      const timer = setInterval(sample, 100);
      await new Promise((r) => setTimeout(r, IDLE_MS)); // a sampling window, not a settle wait
      const idleSamples = samples.filter((s) => s.t >= idleStart).map((s) => s.rss);
      const idle = Math.max(...idleSamples);
      log(`idle RSS ${idle.toFixed(1)} MiB`);

      function* backlog(): Generator<Notification> {
        for (let i = 0; i < BACKLOG; i++) {
          const head = JSON.stringify({ id: `mem-${id}-${i}`, event_type: 'TRANSACTION.SUCCESS', out_trade_no: `order-${i}`, pad: '' });
          const body = head.replace('"pad":""', `"pad":"${'x'.repeat(Math.max(0, BODY_BYTES - head.length))}"`);
          yield buildNotification(pipeline.spec, { messageId: `mem-${id}-${i}`, orderId: `order-${i}`, notifyUrl: merchant.url, nowMs: Date.now(), body });
        }
      }
      const loadStart = Date.now();
      const pub = await publishNotifications({ amqpUrl: AMQP_URL, exchange: plan.exchange.name, routingKey: 'notify', messages: backlog(), window: 512 });
      log(`published ${pub.confirmed} in ${(pub.elapsedMs / 1000).toFixed(1)} s`);
      await new Promise((r) => setTimeout(r, HOLD_MS)); // sampling window with the backlog in place
      clearInterval(timer);
      sample();
      const loaded = samples.filter((s) => s.t >= loadStart).map((s) => s.rss);
      const peak = Math.max(...loaded);
      const hwm = rssMiB(pid).hwm;
      const waiting = (await messageCount(rabbit, plan.work)).messages;
      const delivered = merchant.received();
      log(`peak RSS ${peak.toFixed(1)} MiB (VmHWM ${hwm.toFixed(1)}), ${waiting} still waiting, ${delivered} delivered`);

      child.kill('SIGTERM');
      const code = await exited;
      return {
        results: {
          backlog: BACKLOG,
          bodyBytes: BODY_BYTES,
          concurrency: CONCURRENCY,
          merchantDelayMs: MERCHANT_DELAY_MS,
          idleRssMiB: round(idle, 1),
          peakRssMiB: round(peak, 1),
          vmHwmMiB: round(hwm, 1),
          peakOverIdle: round(peak / idle, 2),
          stillWaitingAtEnd: waiting,
          deliveredDuringRun: delivered,
          publishSeconds: round(pub.elapsedMs / 1000, 1),
          holdSeconds: HOLD_MS / 1000,
          gracefulExitCode: code,
        },
        table: {
          columns: ['measurement', 'value'],
          rows: [
            ['worker RSS idle (MiB)', round(idle, 1)],
            [`worker peak RSS, ${BACKLOG.toLocaleString('en')} × ${BODY_BYTES} B waiting (MiB)`, round(peak, 1)],
            ['peak / idle', round(peak / idle, 2)],
            ['process VmHWM over the whole run (MiB)', round(hwm, 1)],
            ['notifications still waiting in RabbitMQ at the end', waiting],
            [`delivered meanwhile (merchant answers after ${MERCHANT_DELAY_MS} ms, concurrency ${CONCURRENCY})`, delivered],
          ],
        },
        verdicts: [
          `peak RSS ${peak.toFixed(0)} MiB < ${LIMIT_MIB} MiB with ${BACKLOG.toLocaleString('en')} waiting: ${peak < LIMIT_MIB ? 'met' : 'NOT met'}`,
          `graceful stop on SIGTERM exits 0: ${code === 0 ? 'yes' : `NO (exit ${code})`}`,
        ],
      };
    } finally {
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      await deleteAll(rabbit, plan.queues.map((q) => q.name), [plan.exchange.name]);
      await rabbit.close();
      await merchant.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
