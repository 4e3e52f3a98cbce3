/**
 * High availability: operators started as `ladder operator` processes elect one leader on a
 * Lease; a leader stopped with SIGTERM releases the Lease and another takes over at once; a
 * leader killed with SIGKILL is replaced once its Lease expires. Separately, an in-process
 * operator survives a kube-apiserver restart and still reconciles a change made afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { eventually } from '../k8s/harness.js';
import { condition, pipeline, secretYaml, setup, type Env } from './support.js';

let env: Env;
const procs: Array<{ id: string; child: ChildProcess; logs: string[]; exited: Promise<number | null> }> = [];

beforeAll(async () => {
  env = await setup('op-ha');
  await env.apply(secretYaml(env.ns.name, 'rabbitmq', { uri: 'amqp://guest:guest@127.0.0.1:5672' }));
}, 300_000);

afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await env?.cleanup();
});

const LEASE = 'ladder-operator-test';

function startCli(id: string): (typeof procs)[number] {
  const logs: string[] = [];
  const child = spawn(
    process.execPath,
    ['dist/cli/main.js', 'operator', '--kubeconfig', env.cp.kubeconfigPath, '--namespaces', env.ns.name, '--health-port', '0', '--lease-namespace', env.ns.name, '--lease-name', LEASE,
      '--lease-duration', '3s', '--renew-deadline', '2s', '--retry-period', '500ms', '--resync', '1s', '--log-level', 'debug'],
    { env: { ...process.env, POD_NAME: id }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stderr!.on('data', (d: Buffer) => logs.push(...d.toString().split('\n').filter((l) => l !== '')));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const p = { id, child, logs, exited };
  procs.push(p);
  return p;
}

async function holder(): Promise<string | undefined> {
  const r = await env.cp.kubectl(['get', 'lease', LEASE, '-n', env.ns.name, '-o', 'json']);
  if (r.code !== 0) return undefined;
  return JSON.parse(r.stdout).spec?.holderIdentity || undefined;
}

const describeProcs = () => procs.map((p) => `--- ${p.id} (exit ${p.child.exitCode}):\n${p.logs.slice(-10).join('\n')}`).join('\n');

describe('leader election between operator processes', () => {
  test('one leader reconciles; SIGTERM hands over at once; SIGKILL hands over after the lease expires', async () => {
    const a = startCli('op-a');
    const b = startCli('op-b');
    const first = await eventually(holder, { what: 'a lease holder', timeoutMs: 20_000, describe: describeProcs });
    const [leader, follower] = first === 'op-a' ? [a, b] : [b, a];
    await eventually(() => (leader.logs.some((l) => l.includes('"became leader"')) ? true : undefined), { what: 'leader log', describe: describeProcs });
    await eventually(() => (follower.logs.some((l) => l.includes('"waiting for leadership"')) ? true : undefined), { what: 'follower log', describe: describeProcs });

    // Health endpoints of both replicas: alive, and ready (leader synced, follower standing by).
    for (const p of [leader, follower]) {
      const line = await eventually(() => p.logs.find((l) => l.includes('"health server listening"')), { what: `${p.id} health port`, describe: describeProcs });
      const port = (JSON.parse(line) as { port: number }).port;
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      await eventually(async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200 ? true : undefined), { what: `${p.id} ready` });
    }

    await env.apply(pipeline(env.ns.name, 'ha', { replicas: 0, ladder: ['200ms'] }));
    await env.until('ha', 'Ready', (x) => condition(x, 'Ready')?.status === 'True', 20_000);
    expect(follower.logs.some((l) => l.includes('"became leader"'))).toBe(false);
    expect(follower.logs.some((l) => l.includes('"key"'))).toBe(false); // the follower never reconciled

    // Graceful stop: the lease is released, the follower takes over well before it would expire.
    const stopped = Date.now();
    leader.child.kill('SIGTERM');
    expect(await leader.exited).toBe(0);
    expect(leader.logs.some((l) => l.includes('"released leadership"'))).toBe(true);
    await eventually(async () => ((await holder()) === follower.id ? true : undefined), { what: `${follower.id} leads`, timeoutMs: 10_000, intervalMs: 50, describe: describeProcs });
    const handover = Date.now() - stopped;
    expect(handover).toBeLessThan(3_000);
    await env.apply(pipeline(env.ns.name, 'ha', { replicas: 0, ladder: ['300ms'] }));
    await env.until('ha', 'the new leader reconciled the change', (x) => x.status?.['ladder'] === '300ms' && condition(x, 'Ready')?.status === 'True', 20_000);
    env.queues.add(`ladder.${env.ns.name}.ha.delay.300ms`);

    // Crash: a third replica waits, the leader is killed, the lease expires (3 s), the third takes over.
    const c = startCli('op-c');
    await eventually(() => (c.logs.some((l) => l.includes('"waiting for leadership"')) ? true : undefined), { what: 'op-c waits', describe: describeProcs });
    follower.child.kill('SIGKILL');
    await follower.exited;
    const killed = Date.now();
    await eventually(async () => ((await holder()) === 'op-c' ? true : undefined), { what: 'op-c leads', timeoutMs: 15_000, intervalMs: 100, describe: describeProcs });
    expect(Date.now() - killed).toBeGreaterThanOrEqual(1_500); // it had to wait for the lease to expire
    await env.apply(pipeline(env.ns.name, 'ha', { replicas: 0, ladder: ['200ms'] }));
    await env.until('ha', 'op-c reconciled the change', (x) => x.status?.['ladder'] === '200ms', 20_000);
    c.child.kill('SIGTERM');
    expect(await c.exited).toBe(0);
  }, 60_000);
});

describe('a leader whose Lease is taken', () => {
  test('stops reconciling at once and resumes only after it leads again', async () => {
    const lease = 'stolen';
    const op = env.start({ leaderElect: true, leaseNamespace: env.ns.name, leaseName: lease, leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 300, identity: 'victim' });
    await op.whenLeading();
    const name = 'stolen';
    await env.apply(pipeline(env.ns.name, name, { replicas: 0, ladder: ['200ms'] }));
    await env.until(name, 'Ready', (x) => condition(x, 'Ready')?.status === 'True', 20_000);

    // The victim renews every 300 ms, so a read-modify-replace can lose the race (409): read again and retry.
    await eventually(async () => {
      const current = JSON.parse(await env.kubectl(['get', 'lease', lease, '-n', env.ns.name, '-o', 'json']));
      const now = new Date().toISOString().replace(/Z$/, '000Z');
      current.spec = { ...current.spec, holderIdentity: 'thief', renewTime: now, acquireTime: now, leaseDurationSeconds: 3 };
      const r = await env.cp.kubectl(['replace', '-f', '-'], { input: JSON.stringify(current) });
      if (r.code === 0) return true;
      if (!r.stderr.includes('Conflict')) throw new Error(`kubectl replace failed (${r.code}): ${r.stderr}`);
      return undefined;
    }, { what: 'the thief takes the Lease', timeoutMs: 5_000, intervalMs: 20 });
    await eventually(() => (op.health().leader ? undefined : true), { what: 'victim steps down', timeoutMs: 5_000, intervalMs: 20 });
    expect(env.logs.some((l) => l.includes('"lost leadership"') && l.includes('thief'))).toBe(true);

    // A change while the thief holds the Lease waits; once the thief's Lease expires the victim leads and reconciles it.
    env.queues.add(`ladder.${env.ns.name}.${name}.delay.300ms`);
    await env.apply(pipeline(env.ns.name, name, { replicas: 0, ladder: ['300ms'] }));
    const changedAt = Date.now();
    await env.until(name, 'the change reconciled after re-election', (x) => x.status?.['ladder'] === '300ms', 20_000);
    expect(Date.now() - changedAt).toBeGreaterThan(1_000); // not before the stolen Lease (3 s) ran out
    expect(op.health().leader).toBe(true);
    await op.close();
  }, 60_000);
});

describe('an apiserver restart', () => {
  test('the operator reconnects its watches and reconciles a change made after the restart', async () => {
    const op = env.start({ leaderElect: true, leaseNamespace: env.ns.name, leaseName: 'in-process', maxWatchBackoffMs: 1_000 });
    await op.whenLeading();
    const name = 'restart';
    await env.apply(pipeline(env.ns.name, name, { replicas: 0, ladder: ['200ms'] }));
    await env.until(name, 'Ready', (x) => condition(x, 'Ready')?.status === 'True', 20_000);
    await env.cp.restartApiserver();
    env.queues.add(`ladder.${env.ns.name}.${name}.delay.250ms`);
    await eventually(async () => {
      await env.apply(pipeline(env.ns.name, name, { replicas: 0, ladder: ['250ms'] }));
      return true;
    }, { what: 'apply after restart', timeoutMs: 20_000 });
    await env.until(name, 'the change reconciled', (x) => x.status?.['ladder'] === '250ms' && condition(x, 'Ready')?.status === 'True', 30_000);
    expect(env.logs.some((l) => l.includes('"watch failed; retrying"'))).toBe(true);
  }, 60_000);
});
