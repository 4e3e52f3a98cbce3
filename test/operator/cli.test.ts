/** `ladder operator` as a process: flag errors, missing credentials, metrics, graceful stop. */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { closedPort } from '../integration/support/merchant.js';
import { eventually } from '../k8s/harness.js';
import { condition, pipeline, secretYaml, setup, type Env } from './support.js';

function run(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(process.execPath, ['dist/cli/main.js', 'operator', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stderr: '', code: undefined as number | null | undefined };
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r((out.code = code))));
  return { child, out, exited };
}

let env: Env;
beforeAll(async () => {
  env = await setup('op-cli');
}, 300_000);
afterAll(async () => {
  await env?.cleanup();
});

describe('ladder operator', () => {
  test.each([
    [['--resync', 'soon'], '--resync: "soon" is not a duration like 30s'],
    [['--concurrency', '0'], '--concurrency: "0" must be an integer >= 1'],
    [['--lease-duration', '2s', '--renew-deadline', '3s'], 'retry-period < renew-deadline < lease-duration'],
    [['--bogus'], "Unknown option '--bogus'"],
  ])('refuses %j with exit code 2', async (args, message) => {
    const p = run(args);
    expect(await p.exited).toBe(2);
    expect(p.out.stderr).toContain(message);
  });

  test('without a kubeconfig outside a cluster it says what to do (exit 2)', async () => {
    const { KUBECONFIG: _k, KUBERNETES_SERVICE_HOST: _h, ...rest } = process.env;
    const p = run(['--health-port', '0'], rest);
    expect(await p.exited).toBe(2);
    expect(p.out.stderr).toContain('pass --kubeconfig or set $KUBECONFIG');
  });

  test('serves Prometheus metrics on --metrics-port and stops on SIGTERM with exit code 0', async () => {
    await env.apply(secretYaml(env.ns.name, 'rabbitmq', { uri: 'amqp://guest:guest@127.0.0.1:5672' }), pipeline(env.ns.name, 'metrics', { replicas: 0 }));
    const port = await closedPort();
    const p = run(['--kubeconfig', env.cp.kubeconfigPath, '--namespaces', env.ns.name, '--no-leader-elect', '--health-port', '0', '--metrics-port', String(port), '--resync', '1s']);
    await env.until('metrics', 'Ready', (x) => condition(x, 'Ready')?.status === 'True', 20_000);
    const text = await eventually(async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text(), { what: 'metrics', describe: () => p.out.stderr });
    expect(Number(/^ladder_operator_reconcile_total (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
    expect(text).toMatch(/^ladder_operator_leader 1$/m);
    expect(text).toMatch(/^ladder_operator_broker_connections 1$/m);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.out.stderr).toContain('"operator stopped"');
  });
});
