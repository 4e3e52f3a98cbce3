/**
 * The operator on a real control plane: its own etcd + kube-apiserver (the test harness, started
 * and torn down by this section), the real RabbitMQ, and `ladder operator` as a child process, the
 * way it runs in its pod. The harness runs no Deployment controller, so a stand-in marks each
 * worker Deployment rolled out as soon as it appears (test/operator/support.ts).
 *
 *   1. `kubectl apply` of one NotifyPipeline → Ready=True, one after another; next to it, in the
 *      same loop, a bare `kubectl apply` of the same object into a namespace the operator does not
 *      watch plus one GET of it: what creating and reading the object costs without the operator.
 *   2. One `kubectl apply -f` of 100 pipelines → all Ready; next to it the bare apply of the same
 *      100 documents plus one LIST.
 *   3. The operator's peak RSS (VmHWM) after all that, next to its RSS idle right after start.
 * Ready times come from a watch on the pipelines (not a poll), so they are not rounded up to a
 * poll interval.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { ensureControlPlane, initRun, STATE_ENV, teardownRun } from '../../test/k8s/controlplane.js';
import { createNamespace, type TestNamespace } from '../../test/k8s/harness.js';
import { condition, pipeline, rollOutDeployments, secretYaml, setup, type Env, type Pipeline, type RolloutStandIn } from '../../test/operator/support.js';
import { AMQP_URL, percentile, round, rssMiB, waitFor, type Section } from '../lib.js';

const SINGLES = Number(process.env['BENCH_OPERATOR_SINGLES'] ?? 20);
const BULK = Number(process.env['BENCH_OPERATOR_BULK'] ?? 100);
const IDLE_MS = 2_000;
const P50_AIM_MS = 1_000;
const BULK_AIM_MS = 10_000;
const LIMIT_MIB = 150;
const GROUP = { group: 'ladder.dev', version: 'v1alpha1', plural: 'notifypipelines' };

/** The repository root, from .tmp/bench-build/bench/sections/ (compiled) — where dist/cli/main.js lives. */
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** A pipeline as the benchmark applies it: one worker replica (so the Deployment path counts), a one-rung ladder. */
const benchPipeline = (namespace: string, name: string): Pipeline => pipeline(namespace, name, { replicas: 1, ladder: ['200ms'] });

/** When (performance.now()) each pipeline of `namespace` was first seen Ready=True on a watch. */
async function watchReady(kc: KubeConfig, namespace: string): Promise<{ readyAt: Map<string, number>; stop(): void }> {
  const readyAt = new Map<string, number>();
  let stopped = false;
  let current: AbortController | undefined;
  const onEvent = (phase: string, p: Pipeline) => {
    if (phase !== 'ADDED' && phase !== 'MODIFIED') return;
    if (!readyAt.has(p.metadata.name) && condition(p, 'Ready')?.status === 'True') readyAt.set(p.metadata.name, performance.now());
  };
  const reopen = () => {
    if (!stopped) setTimeout(() => void open().catch(reopen), 100);
  };
  const open = async () => {
    current = await new Watch(kc).watch(`/apis/${GROUP.group}/${GROUP.version}/namespaces/${namespace}/${GROUP.plural}`, {}, onEvent, reopen);
  };
  await open();
  return {
    readyAt,
    stop() {
      stopped = true;
      current?.abort();
    },
  };
}

const stats = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: Math.round(percentile(sorted, 50)), p99: Math.round(percentile(sorted, 99)), max: Math.round(sorted[sorted.length - 1]!) };
};

export const operator: Section = {
  name: 'operator',
  title: `Operator on a real kube-apiserver: apply → Ready, ${BULK} pipelines at once, memory`,
  async run({ log }) {
    const previousState = process.env[STATE_ENV];
    // A run of its own (folder, state file, watchdog that cleans up if this process dies).
    const statePath = await initRun({ ownerPid: process.pid });
    process.env[STATE_ENV] = statePath;
    let env: Env | undefined;
    let bare: TestNamespace | undefined;
    let rollout: RolloutStandIn | undefined;
    let ready: Awaited<ReturnType<typeof watchReady>> | undefined;
    let child: ReturnType<typeof spawn> | undefined;
    let exited: Promise<number | null> | undefined;
    try {
      const state = await ensureControlPlane(statePath);
      log(`control plane ready in ${((state.timings?.totalMs ?? 0) / 1000).toFixed(1)} s`);
      env = await setup('bench-op');
      const e = env;
      bare = await createNamespace('bench-bare');
      const bareNs = bare.name;
      await e.apply(secretYaml(e.ns.name, 'rabbitmq', { uri: AMQP_URL }));
      rollout = await rollOutDeployments(e.kc, e.ns.name);
      ready = await watchReady(e.kc, e.ns.name);
      const readyAt = ready.readyAt;

      const proc = spawn(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), 'operator', '--kubeconfig', e.cp.kubeconfigPath, '--namespaces', e.ns.name, '--no-leader-elect', '--health-port', '0', '--log-level', 'info'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      child = proc;
      exited = new Promise((r) => proc.once('exit', (code) => r(code)));
      let stderr = '';
      let healthPort: number | undefined;
      proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
        if (healthPort === undefined) healthPort = Number(/"msg":"health server listening".*?"port":(\d+)/.exec(stderr + d)?.[1] ?? '') || undefined;
        stderr = (stderr + d).slice(-4000);
      });
      const pid = proc.pid!;
      const alive = () => {
        if (proc.exitCode !== null) throw new Error(`ladder operator exited with ${proc.exitCode}: ${stderr}`);
      };
      const started = performance.now();
      await waitFor('the operator to sync its informers (/readyz)', async () => {
        alive();
        if (healthPort === undefined) return false;
        return (await fetch(`http://127.0.0.1:${healthPort}/readyz`).catch(() => undefined))?.status === 200;
      }, 30_000);
      const startMs = performance.now() - started;
      let idle = 0;
      const idleEnd = Date.now() + IDLE_MS;
      while (Date.now() < idleEnd) {
        // a sampling window, not a settle wait
        idle = Math.max(idle, rssMiB(pid).rss);
        await new Promise((r) => setTimeout(r, 100));
      }
      log(`operator ready ${Math.round(startMs)} ms after spawn, idle RSS ${idle.toFixed(1)} MiB`);

      // kubectl's first call discovers the API (cached in the run folder): not part of any number.
      await e.kubectl(['get', 'notifypipelines', '-n', bareNs]);

      // 1. one at a time, each next to the bare apply + GET of the same object.
      const toReady: number[] = [];
      const bareRoundTrip: number[] = [];
      for (let i = 0; i < SINGLES; i++) {
        const name = `single-${i}`;
        const b0 = performance.now();
        await e.kubectl(['apply', '-f', '-'], stringify(benchPipeline(bareNs, name)));
        await e.custom.getNamespacedCustomObject({ ...GROUP, namespace: bareNs, name });
        bareRoundTrip.push(performance.now() - b0);

        const t0 = performance.now();
        await e.apply(benchPipeline(e.ns.name, name));
        await waitFor(`${name} Ready`, () => (alive(), readyAt.has(name)), 30_000, 5);
        toReady.push(readyAt.get(name)! - t0);
      }
      const single = stats(toReady);
      const bareSingle = stats(bareRoundTrip);
      log(`apply → Ready p50 ${single.p50} ms, p99 ${single.p99} ms; bare apply + GET p50 ${bareSingle.p50} ms`);

      // 2. BULK at once, after the bare apply of the same documents + one LIST.
      const names = Array.from({ length: BULK }, (_, i) => `bulk-${i}`);
      const b0 = performance.now();
      await e.kubectl(['apply', '-f', '-'], names.map((n) => stringify(benchPipeline(bareNs, n))).join('\n---\n'));
      const listed = (await e.custom.listNamespacedCustomObject({ ...GROUP, namespace: bareNs })) as { items: unknown[] };
      const bareBulkMs = Math.round(performance.now() - b0);
      if (listed.items.length < BULK) throw new Error(`bare namespace lists ${listed.items.length} pipelines, expected at least ${BULK}`);

      const t0 = performance.now();
      await e.apply(...names.map((n) => benchPipeline(e.ns.name, n)));
      const applyMs = Math.round(performance.now() - t0);
      await waitFor(`${BULK} pipelines Ready`, () => (alive(), names.every((n) => readyAt.has(n))), 120_000, 10);
      const bulkMs = Math.round(Math.max(...names.map((n) => readyAt.get(n)!)) - t0);
      log(`${BULK} at once: all Ready after ${bulkMs} ms (kubectl apply returned after ${applyMs} ms); bare apply + LIST ${bareBulkMs} ms`);

      // 3. memory: the kernel's high-water mark over the whole life, now with every pipeline in place.
      const mem = rssMiB(pid);
      log(`operator VmHWM ${mem.hwm.toFixed(1)} MiB (RSS now ${mem.rss.toFixed(1)} MiB)`);

      proc.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('none within 15 s'), 15_000).unref())]);
      const ratio = (a: number, b: number) => round(a / Math.max(1, b), 1);
      return {
        results: {
          pipelines: { singles: SINGLES, bulk: BULK, replicas: 1, ladder: ['200ms'], queues: 'classic' },
          operator: { process: 'ladder operator --no-leader-elect', concurrency: 4, logLevel: 'info', readyAfterSpawnMs: Math.round(startMs) },
          controlPlaneStartMs: state.timings?.totalMs,
          applyToReadyMs: { ...single, all: toReady.map(Math.round) },
          bareApplyGetMs: bareSingle,
          applyToReadyP50OverBare: ratio(single.p50, bareSingle.p50),
          applyToReadyP99OverBare: ratio(single.p99, bareSingle.p99),
          bulkAllReadyMs: bulkMs,
          bulkKubectlApplyMs: applyMs,
          bareBulkApplyListMs: bareBulkMs,
          bulkOverBare: ratio(bulkMs, bareBulkMs),
          idleRssMiB: round(idle, 1),
          peakRssMiB: round(mem.hwm, 1),
          rssAtEndMiB: round(mem.rss, 1),
          peakOverIdle: round(mem.hwm / idle, 2),
          deploymentStatusPatches: rollout.patched(),
          gracefulExitCode: code,
        },
        table: {
          columns: ['measurement', 'operator', 'baseline', 'operator / baseline'],
          rows: [
            [`kubectl apply → Ready p50, one at a time (ms) vs bare apply + GET`, single.p50, bareSingle.p50, ratio(single.p50, bareSingle.p50)],
            [`kubectl apply → Ready p99 of ${SINGLES} (ms) vs bare apply + GET`, single.p99, bareSingle.p99, ratio(single.p99, bareSingle.p99)],
            [`${BULK} pipelines in one apply → all Ready (ms) vs bare apply + LIST`, bulkMs, bareBulkMs, ratio(bulkMs, bareBulkMs)],
            [`operator peak RSS (VmHWM) with ${SINGLES + BULK} pipelines vs idle after start (MiB)`, round(mem.hwm, 1), round(idle, 1), round(mem.hwm / idle, 2)],
          ],
        },
        verdicts: [
          `apply → Ready p50 ${single.p50} ms < ${P50_AIM_MS} ms: ${single.p50 < P50_AIM_MS ? 'met' : 'NOT met'}`,
          `${BULK} pipelines all Ready in ${(bulkMs / 1000).toFixed(1)} s < ${BULK_AIM_MS / 1000} s: ${bulkMs < BULK_AIM_MS ? 'met' : 'NOT met'}`,
          `operator peak RSS ${mem.hwm.toFixed(0)} MiB < ${LIMIT_MIB} MiB: ${mem.hwm < LIMIT_MIB ? 'met' : 'NOT met'}`,
          `graceful stop on SIGTERM exits 0: ${code === 0 ? 'yes' : `NO (exit ${code})`}`,
        ],
      };
    } finally {
      // The operator first, so no resync declares a queue again after it was deleted.
      if (child !== undefined && child.exitCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      ready?.stop();
      rollout?.stop();
      await bare?.delete();
      await env?.cleanup(); // deletes every ladder.<ns>.<name>.* queue it applied, and the exchange
      await teardownRun(statePath);
      if (previousState === undefined) delete process.env[STATE_ENV];
      else process.env[STATE_ENV] = previousState;
    }
  },
};
