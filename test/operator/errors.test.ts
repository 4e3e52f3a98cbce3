/**
 * Failures are visible and retried: a missing Secret or key, an unreachable broker, a queue
 * with conflicting arguments, and an invalid spec each give Ready=False with a clear reason
 * and message and a Kubernetes Event; the AMQP URI and its password appear nowhere.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { ReconcileReport } from '../../src/operator/index.js';
import { eventually } from '../k8s/harness.js';
import { condition, pipeline, secretYaml, setup, type Env } from './support.js';

let env: Env;
const reports: ReconcileReport[] = [];
const PASSWORD = 'S3cret-pw-91f2';
const BROKEN_URI = `amqp://guest:${PASSWORD}@127.0.0.1:1/`;

beforeAll(async () => {
  env = await setup('op-errors');
  env.start({ onReconcile: (r) => reports.push(r) });
}, 300_000);

afterAll(async () => {
  await env?.cleanup();
});

interface EventLike {
  reason: string;
  note?: string;
  type: string;
  regarding?: { name: string; kind: string };
  series?: { count: number };
}

async function events(name: string): Promise<EventLike[]> {
  const out = await env.kubectl(['get', 'events.events.k8s.io', '-n', env.ns.name, '-o', 'json']);
  return (JSON.parse(out).items as EventLike[]).filter((e) => e.regarding?.name === name);
}

describe('errors are reported on the resource and as Events', () => {
  test('a missing Secret gives SecretNotFound, a missing key SecretKeyMissing, and fixing it makes the pipeline Ready', async () => {
    const name = 'nosecret';
    await env.apply(pipeline(env.ns.name, name, { secret: 'absent', replicas: 0 }));
    const p = await env.until(name, 'SecretNotFound', (x) => condition(x, 'Ready')?.reason === 'SecretNotFound' && x);
    expect(condition(p, 'Ready')).toMatchObject({ status: 'False', message: `Secret ${env.ns.name}/absent (spec.rabbitmq.secretRef) was not found` });
    expect(condition(p, 'TopologyReady')).toMatchObject({ status: 'False', reason: 'SecretNotFound' });
    await expectEvent(name, 'SecretNotFound', 'Warning');

    await env.apply(secretYaml(env.ns.name, 'absent', { other: 'x' }));
    await env.until(name, 'SecretKeyMissing', (x) => condition(x, 'Ready')?.reason === 'SecretKeyMissing' && condition(x, 'Ready')?.message.includes('has no key "uri"'));
    await env.apply(secretYaml(env.ns.name, 'absent', { uri: 'amqp://guest:guest@127.0.0.1:5672' }));
    // Backoff is 5 ms doubling: the retry after the fix comes within seconds.
    await env.until(name, 'Ready', (x) => condition(x, 'Ready')?.status === 'True', 20_000);
    expect(reports.filter((r) => r.key === `${env.ns.name}/${name}` && r.error !== undefined).length).toBeGreaterThan(0);
  });

  test('an unreachable broker gives BrokerUnavailable naming host and port, never the URI or its password', async () => {
    const name = 'nobroker';
    await env.apply(secretYaml(env.ns.name, 'broken', { uri: BROKEN_URI }), pipeline(env.ns.name, name, { secret: 'broken', replicas: 0 }));
    const p = await env.until(name, 'BrokerUnavailable', (x) => condition(x, 'Ready')?.reason === 'BrokerUnavailable' && x, 20_000);
    expect(condition(p, 'Ready')!.message).toContain('127.0.0.1:1');
    const ev = await expectEvent(name, 'BrokerUnavailable', 'Warning');
    // Several retries, one Event (a repeat is counted, not re-created).
    await env.until(name, 'retried twice', () => reports.filter((r) => r.key === `${env.ns.name}/${name}` && r.error !== undefined).length >= 2, 20_000);
    expect((await events(name)).filter((e) => e.reason === 'BrokerUnavailable')).toHaveLength(1);
    for (const text of [JSON.stringify(p), JSON.stringify(ev), env.logs.join('\n'), await env.kubectl(['get', 'events', '-n', env.ns.name, '-o', 'yaml'])]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(BROKEN_URI);
    }
  });

  test('a queue declared with other arguments gives TopologyConflict and is left alone', async () => {
    const name = 'conflict';
    const work = `ladder.${env.ns.name}.${name}.work`;
    env.queues.add(work);
    // Someone made the work queue as a classic queue; the pipeline wants quorum.
    await env.amqp.queueDeclare({ queue: work, durable: true });
    const pub = env.amqp.createPublisher({ confirm: true });
    await pub.send({ exchange: '', routingKey: work }, 'precious');
    await pub.close();
    await env.apply(secretYaml(env.ns.name, 'rabbitmq', { uri: 'amqp://guest:guest@127.0.0.1:5672' }), pipeline(env.ns.name, name, { queues: 'quorum', replicas: 0 }));
    const p = await env.until(name, 'TopologyConflict', (x) => condition(x, 'Ready')?.reason === 'TopologyConflict' && x);
    expect(condition(p, 'Ready')!.message).toContain(work);
    expect(condition(p, 'Ready')!.message).toContain('x-queue-type');
    await expectEvent(name, 'TopologyConflict', 'Warning');
    const ok = await env.amqp.queueDeclare({ queue: work, passive: true });
    expect(ok.messageCount).toBe(1);
  });

  test('an invalid spec that got past the CRD gives InvalidSpec with the field path and is not retried', async () => {
    const name = 'invalid';
    const p = pipeline(env.ns.name, name, { replicas: 0 });
    // An unparsable regular expression: the CRD cannot check it, the operator's schema does.
    p.spec['delivery'].success = { bodyPattern: '(' };
    await env.apply(p);
    const got = await env.until(name, 'InvalidSpec', (x) => condition(x, 'Ready')?.reason === 'InvalidSpec' && x);
    expect(condition(got, 'Ready')!.message).toContain('spec.delivery.success.bodyPattern');
    await expectEvent(name, 'InvalidSpec', 'Warning');
    const key = `${env.ns.name}/${name}`;
    const seen = reports.filter((r) => r.key === key).length;
    await env.until(name, 'two resyncs', () => reports.filter((r) => r.key === key).length >= seen + 2, 10_000);
    expect(reports.filter((r) => r.key === key && r.error !== undefined)).toHaveLength(0);
    expect(reports.filter((r) => r.key === key).length).toBeLessThan(seen + 6);
  });
});

async function expectEvent(name: string, reason: string, type: string): Promise<EventLike> {
  const found = await eventually(async () => (await events(name)).find((e) => e.reason === reason), { what: `Event ${reason} about ${name}`, timeoutMs: 10_000 });
  expect(found).toMatchObject({ reason, type, regarding: { kind: 'NotifyPipeline', name } });
  return found;
}
