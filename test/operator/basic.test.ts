/**
 * The operator against the real kube-apiserver and RabbitMQ: a pipeline applied with kubectl
 * becomes Ready, its queues, ConfigMap and Deployment are real, the printer columns show real
 * values, status is written only on change, and Retain deletion keeps the queues.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { parse } from 'yaml';
import { parsePipeline } from '../../src/api/index.js';
import { planTopology } from '../../src/topology/index.js';
import { eventually } from '../k8s/harness.js';
import { condition, pipeline, queueState, secretYaml, setup, type Env } from './support.js';

let env: Env;
let reconciles = 0;

beforeAll(async () => {
  env = await setup('op-basic');
  await env.apply(secretYaml(env.ns.name, 'rabbitmq', { uri: 'amqp://guest:guest@127.0.0.1:5672' }));
  env.start({ onReconcile: () => reconciles++ });
}, 300_000);

afterAll(async () => {
  await env?.cleanup();
});

describe('a NotifyPipeline applied with kubectl', () => {
  const name = 'alipay';
  let uid = '';

  test('gets its quorum queues with the planned arguments, a finalizer, and TopologyReady', async () => {
    const p = pipeline(env.ns.name, name, { queues: 'quorum', ladder: ['200ms', '400ms'], replicas: 1 });
    await env.apply(p);
    const got = await env.until(name, 'TopologyReady=True', (x) => condition(x, 'TopologyReady')?.status === 'True' && x);
    uid = got.metadata.uid!;
    expect(got.metadata.finalizers).toContain('ladder.dev/finalizer');
    expect(got.status?.['observedGeneration']).toBe(got.metadata.generation);
    expect(got.status?.['ladder']).toBe('200ms,400ms');
    const prefix = `ladder.${env.ns.name}.${name}`;
    expect(got.status?.['queues']).toEqual({ work: `${prefix}.work`, rungs: [`${prefix}.delay.200ms`, `${prefix}.delay.400ms`], parked: `${prefix}.parked` });
    expect(got.status?.['depths']).toMatchObject({ work: 0, delayed: 0, parked: 0 });

    // Redeclaring each queue with the planned arguments succeeds only if they are exactly what the broker holds.
    const plan = planTopology({ namespace: env.ns.name, name }, parsePipeline(p).spec);
    for (const q of plan.queues) {
      await expect(env.amqp.queueDeclare({ queue: q.name, durable: true, arguments: q.arguments })).resolves.toMatchObject({ queue: q.name });
    }
    const rung = plan.queues.find((q) => q.role === 'rung')!;
    expect(rung.arguments).toMatchObject({ 'x-queue-type': 'quorum', 'x-message-ttl': 200, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': `${prefix}.work`, 'x-dead-letter-strategy': 'at-least-once' });
  });

  test('gets an owned ConfigMap holding the pipeline and a hardened worker Deployment', async () => {
    const cm = await env.core.readNamespacedConfigMap({ namespace: env.ns.name, name: `${name}-ladder` });
    const dep = await env.apps.readNamespacedDeployment({ namespace: env.ns.name, name: `${name}-ladder` });
    for (const obj of [cm, dep]) {
      expect(obj.metadata?.ownerReferences).toEqual([{ apiVersion: 'ladder.dev/v1alpha1', kind: 'NotifyPipeline', name, uid, controller: true, blockOwnerDeletion: true }]);
      expect(obj.metadata?.labels).toMatchObject({ 'app.kubernetes.io/name': 'ladder-worker', 'app.kubernetes.io/instance': name, 'app.kubernetes.io/managed-by': 'ladder' });
    }
    const file = parsePipeline(parse(cm.data!['pipeline.yaml']!));
    expect(file.metadata).toMatchObject({ name, namespace: env.ns.name });
    expect(file.spec.retry.ladder).toEqual(['200ms', '400ms']);
    const pod = dep.spec!.template.spec!;
    const c = pod.containers[0]!;
    expect(c.command).toEqual(['ladder', 'worker', '-f', '/etc/ladder/pipeline.yaml', '--health-port', '8080']);
    expect(c.image).toBe('ghcr.io/ladder-dev/ladder:0.1.0');
    expect(c.env).toEqual([{ name: 'AMQP_URL', valueFrom: { secretKeyRef: { name: 'rabbitmq', key: 'uri' } } }]);
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(dep.spec!.replicas).toBe(1);
    expect(dep.spec!.template.metadata?.annotations?.['ladder.dev/config-hash']).toMatch(/^[0-9a-f]{16}$/);
  });

  test('is not Ready until its workers are available, then READY and WORKERS follow the Deployment status', async () => {
    const before = await env.until(name, 'Ready=False WorkersUnavailable', (x) => condition(x, 'Ready')?.reason === 'WorkersUnavailable' && x);
    expect(condition(before, 'Ready')!.status).toBe('False');
    expect(before.status?.['workers']).toBe('0/1');
    await env.kubectl(['patch', 'deployment', `${name}-ladder`, '-n', env.ns.name, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { replicas: 1, readyReplicas: 1, availableReplicas: 1, updatedReplicas: 1 } })]);
    const ready = await env.until(name, 'Ready=True', (x) => condition(x, 'Ready')?.status === 'True' && x);
    expect(ready.status?.['workers']).toBe('1/1');
    expect(condition(ready, 'WorkersAvailable')).toMatchObject({ status: 'True', reason: 'WorkersAvailable' });
    const out = await env.kubectl(['get', 'np', name, '-n', env.ns.name]);
    const [header, row] = out.trim().split('\n');
    expect(header!.split(/\s{2,}/)).toEqual(['NAME', 'READY', 'EXCHANGE', 'ROUTING KEY', 'LADDER', 'WORKERS', 'PARKED', 'AGE']);
    expect(row!.split(/\s{2,}/).slice(0, 7)).toEqual([name, 'True', `${env.ns.name}.notify`, 'notify', '200ms,400ms', '1/1', '0']);
  });

  test('writes status only when something changed: resourceVersion is stable across resyncs', async () => {
    const first = (await env.get(name))!;
    const start = reconciles;
    // resync is 1 s: wait for several resync reconciles to have run.
    await env.until(name, 'three more reconciles', () => reconciles >= start + 3, 10_000);
    const later = (await env.get(name))!;
    expect(later.metadata.resourceVersion).toBe(first.metadata.resourceVersion);
    const dep = await env.apps.readNamespacedDeployment({ namespace: env.ns.name, name: `${name}-ladder` });
    expect(dep.metadata?.generation).toBe(1);
  });

  test('a depth change is sampled into status', async () => {
    const pub = env.amqp.createPublisher({ confirm: true });
    await pub.send({ exchange: '', routingKey: `ladder.${env.ns.name}.${name}.parked` }, 'parked one');
    await pub.close();
    const got = await env.until(name, 'depths.parked=1', (x) => x.status?.['depths']?.parked === 1 && x);
    expect(got.status?.['depths'].sampledAt).toMatch(/Z$/);
    const out = await env.kubectl(['get', 'np', name, '-n', env.ns.name, '--no-headers']);
    expect(out.trim().split(/\s{2,}/)[6]).toBe('1');
  });

  test('the AMQP URI appears nowhere: not in status, events, the ConfigMap, the Deployment or the logs', async () => {
    const texts = [
      JSON.stringify(await env.get(name)),
      await env.kubectl(['get', 'events', '-n', env.ns.name, '-o', 'json']),
      await env.kubectl(['get', 'configmaps,deployments', '-n', env.ns.name, '-o', 'json']),
      env.logs.join('\n'),
    ];
    for (const t of texts) {
      expect(t).not.toContain('amqp://');
      expect(t).not.toContain('guest:guest');
    }
  });

  test('deleted under Retain: the finalizer is removed and the queues (with their messages) stay', async () => {
    await env.kubectl(['delete', 'np', name, '-n', env.ns.name, '--wait=false']);
    await eventually(async () => ((await env.get(name)) === undefined ? true : undefined), { what: 'pipeline gone', timeoutMs: 10_000 });
    expect(await queueState(env.amqp, `ladder.${env.ns.name}.${name}.work`)).toEqual({ messages: 0 });
    expect(await queueState(env.amqp, `ladder.${env.ns.name}.${name}.parked`)).toEqual({ messages: 1 });
  });
});
