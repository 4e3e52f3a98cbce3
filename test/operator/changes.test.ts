/**
 * Convergence after changes: a ladder change declares new rungs and drains the old ones before
 * deleting them, a queue deleted by hand comes back within one resync, and deletion under
 * policy Delete waits for every queue to be empty.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { eventually } from '../k8s/harness.js';
import { condition, pipeline, queueState, secretYaml, setup, type Env } from './support.js';

let env: Env;

beforeAll(async () => {
  env = await setup('op-changes');
  await env.apply(secretYaml(env.ns.name, 'rabbitmq', { uri: 'amqp://guest:guest@127.0.0.1:5672' }));
  env.start();
}, 300_000);

afterAll(async () => {
  await env?.cleanup();
});

const publish = async (exchange: string, routingKey: string, body: string) => {
  const pub = env.amqp.createPublisher({ confirm: true });
  await pub.send({ exchange, routingKey, mandatory: true }, body);
  await pub.close();
};

describe('the operator converges after changes', () => {
  test('a ladder change declares the new rungs; old rungs drain into the work queue and are deleted once empty', async () => {
    const name = 'ladder';
    const prefix = `ladder.${env.ns.name}.${name}`;
    await env.apply(pipeline(env.ns.name, name, { ladder: ['200ms', '3s'], replicas: 0 }));
    await env.until(name, 'Ready', (x) => condition(x, 'Ready')?.status === 'True');
    // A notification waiting on the 3 s rung keeps that rung alive after the change.
    await publish('', `${prefix}.delay.3s`, 'waiting');
    env.queues.add(`${prefix}.delay.300ms`);
    await env.apply(pipeline(env.ns.name, name, { ladder: ['300ms'], replicas: 0 }));

    const changed = await env.until(name, 'new rung planned, 3s draining', (x) => x.status?.['queues']?.rungs?.[0] === `${prefix}.delay.300ms` && x);
    expect(changed.status?.['queues'].draining).toEqual([`${prefix}.delay.3s`]);
    expect(changed.status?.['ladder']).toBe('300ms');
    expect(await queueState(env.amqp, `${prefix}.delay.300ms`)).toEqual({ messages: 0 });
    expect(await queueState(env.amqp, `${prefix}.delay.200ms`)).toBeUndefined(); // empty: deleted at once
    expect(condition(changed, 'TopologyReady')?.message).toContain('draining');

    const drained = await env.until(name, 'draining list empty', (x) => x.status?.['queues'] !== undefined && x.status['queues'].draining === undefined && x, 10_000);
    expect(drained.status?.['queues'].rungs).toEqual([`${prefix}.delay.300ms`]);
    expect(await queueState(env.amqp, `${prefix}.delay.3s`)).toBeUndefined();
    // The waiting notification was not lost: it dead-lettered into the work queue.
    expect(await queueState(env.amqp, `${prefix}.work`)).toEqual({ messages: 1 });
  });

  test('old rungs are kept until the worker Deployment has rolled out the new ladder', async () => {
    const name = 'rollout';
    const prefix = `ladder.${env.ns.name}.${name}`;
    const dep = `${name}-ladder`;
    const rolledOut = async () => {
      const d = await env.apps.readNamespacedDeployment({ namespace: env.ns.name, name: dep });
      const status = { observedGeneration: d.metadata!.generation, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 };
      await env.kubectl(['patch', 'deployment', dep, '-n', env.ns.name, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
    };
    await env.apply(pipeline(env.ns.name, name, { ladder: ['200ms'], replicas: 1 }));
    await env.until(name, 'TopologyReady', (x) => condition(x, 'TopologyReady')?.status === 'True');
    await rolledOut();
    await env.until(name, 'Ready', (x) => condition(x, 'Ready')?.status === 'True');
    env.queues.add(`${prefix}.delay.250ms`);
    await env.apply(pipeline(env.ns.name, name, { ladder: ['250ms'], replicas: 1 }));
    // The old rung is empty, but a pod of the old template may still retry into it: keep it.
    const changed = await env.until(name, 'old rung draining', (x) => x.status?.['queues']?.draining?.[0] === `${prefix}.delay.200ms` && x);
    expect(changed.status?.['queues'].rungs).toEqual([`${prefix}.delay.250ms`]);
    expect(await queueState(env.amqp, `${prefix}.delay.200ms`)).toEqual({ messages: 0 });
    await rolledOut();
    await env.until(name, 'old rung deleted after the rollout', (x) => x.status?.['queues'] !== undefined && x.status['queues'].draining === undefined);
    expect(await queueState(env.amqp, `${prefix}.delay.200ms`)).toBeUndefined();
  });

  test('a queue deleted by hand is declared and bound again within one resync', async () => {
    const name = 'drift';
    const work = `ladder.${env.ns.name}.${name}.work`;
    await env.apply(pipeline(env.ns.name, name, { replicas: 0 }));
    await env.until(name, 'Ready', (x) => condition(x, 'Ready')?.status === 'True');
    await env.amqp.queueDelete({ queue: work });
    const started = Date.now();
    await eventually(async () => ((await queueState(env.amqp, work)) !== undefined ? true : undefined), { what: 'work queue back', timeoutMs: 5_000, intervalMs: 50 });
    expect(Date.now() - started).toBeLessThan(2_500); // resync is 1 s
    await eventually(
      async () => {
        // The binding is back too: a notification published as producers do lands in the work queue.
        await publish(`${env.ns.name}.notify`, 'notify', 'after drift');
        return (await queueState(env.amqp, work))!.messages > 0 ? true : undefined;
      },
      { what: 'binding back', timeoutMs: 5_000 },
    );
  });

  test('a worker Deployment or ConfigMap deleted or edited by hand is put back', async () => {
    const name = 'workers-drift';
    await env.apply(pipeline(env.ns.name, name, { replicas: 2 }));
    await env.until(name, 'TopologyReady', (x) => condition(x, 'TopologyReady')?.status === 'True');
    const obj = `${name}-ladder`;
    const original = await env.apps.readNamespacedDeployment({ namespace: env.ns.name, name: obj });
    await env.kubectl(['delete', 'deployment', obj, '-n', env.ns.name]);
    await env.kubectl(['delete', 'configmap', obj, '-n', env.ns.name]);
    const back = await eventually(async () => env.apps.readNamespacedDeployment({ namespace: env.ns.name, name: obj }), { what: 'Deployment recreated', timeoutMs: 5_000 });
    expect(back.metadata?.uid).not.toBe(original.metadata?.uid);
    await eventually(async () => env.core.readNamespacedConfigMap({ namespace: env.ns.name, name: obj }), { what: 'ConfigMap recreated', timeoutMs: 5_000 });
    // An edit of a field the operator owns is reverted (the informer sees the new generation).
    await env.kubectl(['scale', 'deployment', obj, '-n', env.ns.name, '--replicas=5']);
    await eventually(async () => ((await env.apps.readNamespacedDeployment({ namespace: env.ns.name, name: obj })).spec?.replicas === 2 ? true : undefined), { what: 'replicas back to 2', timeoutMs: 5_000 });
  });

  test('deleted under Delete: the finalizer stays while messages wait, then the queues are deleted', async () => {
    const name = 'deleteme';
    const prefix = `ladder.${env.ns.name}.${name}`;
    await env.apply(pipeline(env.ns.name, name, { replicas: 0, deletionPolicy: 'Delete' }));
    await env.until(name, 'Ready', (x) => condition(x, 'Ready')?.status === 'True');
    await publish('', `${prefix}.work`, 'one');
    await publish('', `${prefix}.parked`, 'two');
    await env.kubectl(['delete', 'np', name, '-n', env.ns.name, '--wait=false']);

    const blocked = await env.until(name, 'Ready=False QueuesNotEmpty', (x) => condition(x, 'Ready')?.reason === 'QueuesNotEmpty' && x);
    expect(blocked.metadata.finalizers).toContain('ladder.dev/finalizer');
    expect(condition(blocked, 'Ready')!.message).toContain('2 messages still waiting in 2 queues');
    expect(await queueState(env.amqp, `${prefix}.work`)).toEqual({ messages: 1 });

    // Consume what waits; the next poll deletes the queues and lets the resource go.
    await env.amqp.basicGet({ queue: `${prefix}.work`, noAck: true });
    await env.until(name, 'one message left', (x) => condition(x, 'Ready')?.message.includes('1 message still waiting in 1 queue'));
    await env.amqp.basicGet({ queue: `${prefix}.parked`, noAck: true });
    await eventually(async () => ((await env.get(name)) === undefined ? true : undefined), { what: 'pipeline gone', timeoutMs: 10_000 });
    for (const q of [`${prefix}.work`, `${prefix}.delay.200ms`, `${prefix}.delay.400ms`, `${prefix}.parked`]) expect(await queueState(env.amqp, q)).toBeUndefined();
  });
});
