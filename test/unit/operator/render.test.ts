import { describe, expect, test } from '@jest/globals';
import { parse } from 'yaml';
import { parsePipeline, type NotifyPipeline } from '../../../src/api/index.js';
import { configHash, renderConfigMap, renderDeployment } from '../../../src/operator/index.js';

const owner = { name: 'alipay', namespace: 'payments', uid: 'uid-1' };

function pipeline(spec: Record<string, unknown> = {}): NotifyPipeline {
  return parsePipeline({
    apiVersion: 'ladder.dev/v1alpha1',
    kind: 'NotifyPipeline',
    metadata: { name: 'alipay', namespace: 'payments', uid: 'uid-1', resourceVersion: '7', annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' } },
    spec: {
      rabbitmq: { secretRef: { name: 'rabbitmq' } },
      source: { exchange: 'notifyExchange', durable: false, routingKey: 'AliPaynotify' },
      retry: { ladder: ['3s', '30s'] },
      delivery: { target: { fromBody: true }, success: { preset: 'alipay' } },
      workers: { replicas: 3, concurrency: 16, resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: '128Mi' } } },
      ...spec,
    },
  });
}

type Any = Record<string, any>;

describe('renderConfigMap', () => {
  test('holds exactly the pipeline file the worker reads, with name and namespace and no server fields', () => {
    const cm = renderConfigMap(pipeline(), owner) as Any;
    expect(cm.metadata.name).toBe('alipay-ladder');
    const file = parse(cm.data['pipeline.yaml']);
    expect(Object.keys(file)).toEqual(['apiVersion', 'kind', 'metadata', 'spec']);
    expect(file.metadata).toEqual({ name: 'alipay', namespace: 'payments' });
    const { workers, ...rest } = pipeline().spec;
    expect(parsePipeline(file).spec).toMatchObject(rest);
    expect(file.spec.workers).toEqual({ concurrency: workers.concurrency });
  });

  test('is owned by the pipeline (controller, blockOwnerDeletion) and labelled as managed by ladder', () => {
    const cm = renderConfigMap(pipeline(), owner) as Any;
    expect(cm.metadata.ownerReferences).toEqual([{ apiVersion: 'ladder.dev/v1alpha1', kind: 'NotifyPipeline', name: 'alipay', uid: 'uid-1', controller: true, blockOwnerDeletion: true }]);
    expect(cm.metadata.labels).toEqual({ 'app.kubernetes.io/name': 'ladder-worker', 'app.kubernetes.io/instance': 'alipay', 'app.kubernetes.io/managed-by': 'ladder' });
  });
});

describe('renderDeployment', () => {
  const dep = (p = pipeline()) => renderDeployment(p, owner, { image: 'img:1' }, configHash(renderConfigMap(p, owner))) as Any;

  test('runs `ladder worker` on the mounted pipeline file with health probes on 8080', () => {
    const d = dep();
    const c = d.spec.template.spec.containers[0];
    expect(c.image).toBe('img:1');
    expect(c.command).toEqual(['ladder', 'worker', '-f', '/etc/ladder/pipeline.yaml', '--health-port', '8080']);
    expect(c.volumeMounts).toEqual([{ name: 'pipeline', mountPath: '/etc/ladder', readOnly: true }]);
    expect(d.spec.template.spec.volumes).toEqual([{ name: 'pipeline', configMap: { name: 'alipay-ladder' } }]);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'health' });
    expect(c.ports).toEqual([{ name: 'health', containerPort: 8080, protocol: 'TCP' }]);
  });

  test('takes AMQP_URL from the rabbitmq Secret; LADDER_SIGNING_SECRET only when signing is on', () => {
    expect(dep().spec.template.spec.containers[0].env).toEqual([{ name: 'AMQP_URL', valueFrom: { secretKeyRef: { name: 'rabbitmq', key: 'uri' } } }]);
    const signed = pipeline({ delivery: { target: { fromBody: true }, success: { preset: 'alipay' }, signing: { secretRef: { name: 'webhook', key: 'k' } } } });
    expect(dep(signed).spec.template.spec.containers[0].env[1]).toEqual({ name: 'LADDER_SIGNING_SECRET', valueFrom: { secretKeyRef: { name: 'webhook', key: 'k' } } });
  });

  test('is locked down: non-root 10001, read-only root, no escalation, no capabilities, RuntimeDefault seccomp, no SA token', () => {
    const d = dep();
    const pod = d.spec.template.spec;
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.containers[0].securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 10001,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
  });

  test('replicas and resources come from spec.workers; the selector is the stable subset of the labels', () => {
    const d = dep();
    expect(d.spec.replicas).toBe(3);
    expect(d.spec.template.spec.containers[0].resources).toEqual({ requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: '128Mi' } });
    expect(d.spec.selector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'ladder-worker', 'app.kubernetes.io/instance': 'alipay' } });
    expect(d.spec.template.metadata.labels).toMatchObject(d.spec.selector.matchLabels);
  });

  test('a spec change changes the config-hash annotation (rolling the pods); a replica change does not', () => {
    const hash = (p: NotifyPipeline) => dep(p).spec.template.metadata.annotations['ladder.dev/config-hash'];
    expect(hash(pipeline())).toMatch(/^[0-9a-f]{16}$/);
    expect(hash(pipeline())).toBe(hash(pipeline()));
    expect(hash(pipeline({ retry: { ladder: ['3s'] } }))).not.toBe(hash(pipeline()));
    expect(hash(pipeline({ workers: { replicas: 5, concurrency: 16 } }))).toBe(hash(pipeline()));
    expect(hash(pipeline({ workers: { replicas: 3, concurrency: 8 } }))).not.toBe(hash(pipeline()));
  });
});
