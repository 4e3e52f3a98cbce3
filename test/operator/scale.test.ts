/**
 * Scale and latency: 100 pipelines created at once all become Ready, and a single apply
 * becomes Ready quickly. The bounds are generous (a shared 2-core machine); the measured
 * numbers are printed for the report.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { stringify } from 'yaml';
import { condition, pipeline, secretYaml, setup, type Env, type Pipeline } from './support.js';

let env: Env;
let operator: ChildProcess;
const logs: string[] = [];

beforeAll(async () => {
  env = await setup('op-scale');
  await env.apply(secretYaml(env.ns.name, 'rabbitmq', { uri: 'amqp://guest:guest@127.0.0.1:5672' }));
  // The operator as it runs in its pod (a process of its own), so its memory can be measured.
  operator = spawn(process.execPath, ['dist/cli/main.js', 'operator', '--kubeconfig', env.cp.kubeconfigPath, '--namespaces', env.ns.name, '--health-port', '0', '--no-leader-elect'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  operator.stderr!.on('data', (d: Buffer) => logs.push(d.toString()));
}, 300_000);

afterAll(async () => {
  if (operator !== undefined && operator.exitCode === null) {
    const exited = new Promise((r) => operator.once('exit', r));
    operator.kill('SIGTERM');
    await exited;
  }
  await env?.cleanup();
}, 120_000);

/** Peak resident memory of the operator process, in MB (Linux /proc). */
async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

async function allReady(names: string[]): Promise<number> {
  const list = (await env.custom.listNamespacedCustomObject({ group: 'ladder.dev', version: 'v1alpha1', namespace: env.ns.name, plural: 'notifypipelines' })) as { items: Pipeline[] };
  const ready = new Set(list.items.filter((p) => condition(p, 'Ready')?.status === 'True').map((p) => p.metadata.name));
  return names.filter((n) => ready.has(n)).length;
}

describe('the operator at scale', () => {
  test('a single pipeline goes from create to Ready quickly (p50 of 10)', async () => {
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      const p = pipeline(env.ns.name, `single-${i}`, { replicas: 0, ladder: ['200ms'] });
      for (const q of [`ladder.${env.ns.name}.single-${i}.work`, `ladder.${env.ns.name}.single-${i}.delay.200ms`, `ladder.${env.ns.name}.single-${i}.parked`]) env.queues.add(q);
      const started = Date.now();
      await env.custom.createNamespacedCustomObject({ group: 'ladder.dev', version: 'v1alpha1', namespace: env.ns.name, plural: 'notifypipelines', body: p });
      await env.until(p.metadata.name, 'Ready', (x) => condition(x, 'Ready')?.status === 'True', 20_000);
      times.push(Date.now() - started);
    }
    times.sort((a, b) => a - b);
    const p50 = times[Math.floor(times.length / 2)]!;
    console.log(`create→Ready ms: p50 ${p50}, all ${times.join(',')}`);
    expect(p50).toBeLessThan(1_500);
  });

  test('100 pipelines created at once are all Ready', async () => {
    const names = Array.from({ length: 100 }, (_, i) => `bulk-${i}`);
    const docs = names.map((n) => pipeline(env.ns.name, n, { replicas: 0, ladder: ['200ms'] }));
    for (const n of names) for (const q of [`ladder.${env.ns.name}.${n}.work`, `ladder.${env.ns.name}.${n}.delay.200ms`, `ladder.${env.ns.name}.${n}.parked`]) env.queues.add(q);
    const started = Date.now();
    await env.kubectl(['apply', '-f', '-'], docs.map((d) => stringify(d)).join('---\n'));
    console.log(`kubectl apply of 100 took ${Date.now() - started} ms`);
    let n = 0;
    while ((n = await allReady(names)) < names.length && Date.now() - started < 40_000) await new Promise((r) => setTimeout(r, 100));
    const took = Date.now() - started;
    const peak = await peakRssMb(operator.pid!);
    console.log(`100 pipelines Ready in ${took} ms; operator peak RSS ${peak.toFixed(0)} MB`);
    expect(n).toBe(100);
    expect(took).toBeLessThan(20_000);
    expect(peak).toBeLessThan(150);
  }, 60_000);
});
