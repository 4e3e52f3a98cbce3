/**
 * Pure render functions: a parsed NotifyPipeline in, the worker ConfigMap and Deployment out,
 * exactly as they are server-side applied. No I/O, no clock.
 */
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import { API_GROUP, API_VERSION, KIND, type NotifyPipeline } from '../api/index.js';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'ladder';
export const INSTANCE_LABEL = 'app.kubernetes.io/instance';
export const NAME_LABEL = 'app.kubernetes.io/name';
export const WORKER_NAME = 'ladder-worker';
export const CONFIG_HASH_ANNOTATION = 'ladder.dev/config-hash';
export const PIPELINE_FILE = 'pipeline.yaml';
export const CONFIG_DIR = '/etc/ladder';
export const HEALTH_PORT = 8080;
export const WORKER_UID = 10001;
export const DEFAULT_WORKER_IMAGE = 'ghcr.io/ladder-dev/ladder:0.1.0';

export interface RenderOptions {
  /** Worker container image (`--worker-image`). */
  image: string;
}

/** The owner as the API server knows it; uid is required for an owner reference. */
export interface OwnerInfo {
  name: string;
  namespace: string;
  uid: string;
}

type Obj = Record<string, unknown>;

/** Name of both the ConfigMap and the Deployment of a pipeline. */
export function workerObjectName(pipeline: string): string {
  return `${pipeline}-ladder`;
}

export function workerLabels(pipeline: string): Record<string, string> {
  return { [NAME_LABEL]: WORKER_NAME, [INSTANCE_LABEL]: pipeline, [MANAGED_BY_LABEL]: MANAGED_BY };
}

function ownerReference(owner: OwnerInfo): Obj {
  return { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: KIND, name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true };
}

/**
 * The file the worker reads: only what it needs, never a secret (those come through env).
 * Replicas and resources are the Deployment's business; leaving them out keeps a scale change
 * from changing the config hash and rolling every pod.
 */
export function pipelineFile(p: NotifyPipeline): string {
  const { replicas: _replicas, resources: _resources, ...workers } = p.spec.workers;
  return stringify({ apiVersion: p.apiVersion, kind: p.kind, metadata: { name: p.metadata.name, namespace: p.metadata.namespace }, spec: { ...p.spec, workers } });
}

export function renderConfigMap(p: NotifyPipeline, owner: OwnerInfo): Obj {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: workerObjectName(owner.name),
      namespace: owner.namespace,
      labels: workerLabels(owner.name),
      ownerReferences: [ownerReference(owner)],
    },
    data: { [PIPELINE_FILE]: pipelineFile(p) },
  };
}

/** Short, stable hash of the ConfigMap data; a change rolls the worker pods. */
export function configHash(configMap: Obj): string {
  const data = (configMap['data'] ?? {}) as Record<string, string>;
  const canonical = JSON.stringify(Object.keys(data).sort().map((k) => [k, data[k]]));
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

export function renderDeployment(p: NotifyPipeline, owner: OwnerInfo, options: RenderOptions, hash: string): Obj {
  const labels = workerLabels(owner.name);
  const selector = { [NAME_LABEL]: WORKER_NAME, [INSTANCE_LABEL]: owner.name };
  const env: Obj[] = [];
  const rabbit = p.spec.rabbitmq.secretRef;
  if (rabbit !== undefined) env.push({ name: 'AMQP_URL', valueFrom: { secretKeyRef: { name: rabbit.name, key: rabbit.key } } });
  const signing = p.spec.delivery.signing?.secretRef;
  if (signing !== undefined) env.push({ name: 'LADDER_SIGNING_SECRET', valueFrom: { secretKeyRef: { name: signing.name, key: signing.key } } });
  const seccomp = { type: 'RuntimeDefault' };
  const probe = (path: string) => ({ httpGet: { path, port: 'health' }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 });
  const resources = p.spec.workers.resources;
  const container: Obj = {
    name: 'worker',
    image: options.image,
    imagePullPolicy: 'IfNotPresent',
    command: ['ladder', 'worker', '-f', `${CONFIG_DIR}/${PIPELINE_FILE}`, '--health-port', String(HEALTH_PORT)],
    env,
    ports: [{ name: 'health', containerPort: HEALTH_PORT, protocol: 'TCP' }],
    volumeMounts: [{ name: 'pipeline', mountPath: CONFIG_DIR, readOnly: true }],
    livenessProbe: probe('/healthz'),
    readinessProbe: probe('/readyz'),
    securityContext: {
      runAsNonRoot: true,
      runAsUser: WORKER_UID,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: seccomp,
    },
    ...(resources !== undefined ? { resources: prune(resources) } : {}),
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: workerObjectName(owner.name),
      namespace: owner.namespace,
      labels,
      ownerReferences: [ownerReference(owner)],
    },
    spec: {
      replicas: p.spec.workers.replicas,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels, annotations: { [CONFIG_HASH_ANNOTATION]: hash } },
        spec: {
          automountServiceAccountToken: false,
          // Workers finish or return in-flight messages on SIGTERM; give them the delivery timeout and then some.
          terminationGracePeriodSeconds: 30,
          securityContext: { runAsNonRoot: true, runAsUser: WORKER_UID, seccompProfile: seccomp },
          containers: [container],
          volumes: [{ name: 'pipeline', configMap: { name: workerObjectName(owner.name) } }],
        },
      },
    },
  };
}

/** Drop undefined fields so the applied object equals what the API server echoes. */
function prune<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
