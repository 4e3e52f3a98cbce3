/**
 * The Deployment the operator renders is a real, working worker: its container command, its
 * env (secretKeyRefs resolved from the real Secrets) and its ConfigMap's pipeline.yaml, run as
 * a local process (`ladder` → `node dist/cli/main.js`, /etc/ladder → a temp folder), deliver a
 * notification published to the source exchange to a loopback merchant, signed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Webhook } from 'standardwebhooks';
import { closedPort, startMerchant, answer, type Merchant } from '../integration/support/merchant.js';
import { eventually } from '../k8s/harness.js';
import { condition, pipeline, secretYaml, setup, type Env } from './support.js';

let env: Env;
let merchant: Merchant;
let dir = '';
let child: ChildProcess | undefined;
const SIGNING = 'whsec_' + Buffer.from('operator-test-signing-key-32byte').toString('base64');

beforeAll(async () => {
  env = await setup('op-worker');
  merchant = await startMerchant((_a, res) => answer(res, 200, 'success'));
  dir = await mkdtemp(join(tmpdir(), 'ladder-rendered-'));
  await env.apply(secretYaml(env.ns.name, 'rabbitmq', { uri: 'amqp://guest:guest@127.0.0.1:5672' }), secretYaml(env.ns.name, 'webhook', { secret: SIGNING }));
  env.start();
}, 300_000);

afterAll(async () => {
  if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
  await merchant?.close();
  await env?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the rendered worker', () => {
  test('runs as rendered and delivers a published notification to the merchant, signed', async () => {
    const name = 'rendered';
    const p = pipeline(env.ns.name, name, { replicas: 1 });
    p.spec['delivery'].signing = { secretRef: { name: 'webhook', key: 'secret' } };
    await env.apply(p);
    await env.until(name, 'TopologyReady', (x) => condition(x, 'TopologyReady')?.status === 'True');

    const dep = await env.apps.readNamespacedDeployment({ namespace: env.ns.name, name: `${name}-ladder` });
    const pod = dep.spec!.template.spec!;
    const c = pod.containers[0]!;
    const mount = c.volumeMounts!.find((m) => m.name === pod.volumes![0]!.name)!;
    const cmName = pod.volumes![0]!.configMap!.name!;
    const cm = await env.core.readNamespacedConfigMap({ namespace: env.ns.name, name: cmName });
    for (const [file, text] of Object.entries(cm.data ?? {})) await writeFile(join(dir, file), text);

    const childEnv: NodeJS.ProcessEnv = { PATH: process.env['PATH'] };
    for (const e of c.env ?? []) {
      const ref = e.valueFrom?.secretKeyRef;
      if (ref === undefined) childEnv[e.name] = e.value;
      else {
        const s = await env.core.readNamespacedSecret({ namespace: env.ns.name, name: ref.name! });
        childEnv[e.name] = Buffer.from(s.data![ref.key]!, 'base64').toString('utf8');
      }
    }
    expect(Object.keys(childEnv).sort()).toEqual(['AMQP_URL', 'LADDER_SIGNING_SECRET', 'PATH']);

    const port = await closedPort();
    const args = [...(c.command ?? []), ...(c.args ?? [])].map((a) => a.replace(mount.mountPath, dir));
    expect(args[0]).toBe('ladder');
    const healthAt = args.indexOf('--health-port');
    args[healthAt + 1] = String(port); // the pod's 8080 may be taken on this machine
    const logs: string[] = [];
    child = spawn(process.execPath, ['dist/cli/main.js', ...args.slice(1)], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => logs.push(d.toString()));
    const exited = new Promise<number | null>((r) => child!.on('exit', (code) => r(code)));

    await eventually(async () => ((await fetch(`http://127.0.0.1:${port}${c.readinessProbe!.httpGet!.path}`)).status === 200 ? true : undefined), {
      what: 'worker /readyz 200',
      timeoutMs: 20_000,
      describe: () => logs.join(''),
    });
    expect((await fetch(`http://127.0.0.1:${port}${c.livenessProbe!.httpGet!.path}`)).status).toBe(200);

    const pub = env.amqp.createPublisher({ confirm: true });
    await pub.send({ exchange: `${env.ns.name}.notify`, routingKey: 'notify', mandatory: true }, `${merchant.url}/notify?out_trade_no=T1&trade_status=TRADE_SUCCESS`);
    await pub.close();
    const arrival = await eventually(() => merchant.arrivals.find((a) => a.path === '/notify'), { what: 'the notification at the merchant', timeoutMs: 10_000, describe: () => logs.join('') });
    expect(arrival.body.toString()).toContain('out_trade_no=T1');
    const headers = Object.fromEntries(Object.entries(arrival.headers).map(([k, v]) => [k, String(v)]));
    expect(() => new Webhook(SIGNING).verify(arrival.body, headers, { jsonParse: false })).not.toThrow();

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
