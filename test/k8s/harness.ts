/**
 * Test-facing API of the Kubernetes control plane (see controlplane.ts for what it is and is not).
 *
 *   const cp = await getControlPlane();            // in beforeAll; starts it lazily if needed
 *   const ns = await createNamespace('crd');        // fresh namespace; afterAll(() => ns.delete())
 *   const kc = cp.kubeConfig();                     // @kubernetes/client-node, as cluster admin
 *   await cp.kubectl(['get', 'np', '-n', ns.name]); // the built kubectl, admin kubeconfig
 *   const sa = await actAsServiceAccount(ns.name, 'operator'); // SA + TokenRequest + kubeconfig
 *
 * One control plane serves the whole jest run; each test file works in its own namespaces.
 * Remember: no controller-manager — deleted namespaces stay Terminating, no garbage collection,
 * no default ServiceAccount, no Pods.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ApiException,
  ApiextensionsV1Api,
  CoreV1Api,
  KubeConfig,
  loadYaml,
  type AuthenticationV1TokenRequest,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import {
  ensureControlPlane,
  logTail,
  readCa,
  renderKubeconfig,
  repoRoot,
  restartApiserver as restartApiserverOf,
  run,
  STATE_ENV,
  writeRunFile,
  type ControlPlaneState,
  type ExecResult,
  type Timings,
} from './controlplane.js';

export type { ExecResult, Timings } from './controlplane.js';
export { ControlPlaneError } from './controlplane.js';

export interface RunOptions {
  /** Written to the command's stdin. */
  input?: string;
  /** Kubeconfig to use instead of the admin's (e.g. a ServiceAccount's). */
  kubeconfig?: string;
  /** Default 60 s. */
  timeoutMs?: number;
  /** Working directory. Default: the repository root (jest's cwd). */
  cwd?: string;
}

export interface ControlPlane {
  /** Admin kubeconfig (client certificate in `system:masters`). */
  kubeconfigPath: string;
  /** https://127.0.0.1:PORT */
  server: string;
  /** Folder with kube-apiserver, etcd, kubectl (and usually helm). */
  binDir: string;
  /** How long the start took (certs, etcd, apiserver). */
  timings: Timings | undefined;
  /** A client-node KubeConfig for the admin (a new object each call). */
  kubeConfig(): KubeConfig;
  /** Run the built kubectl; never throws on a non-zero exit. */
  kubectl(args: string[], options?: RunOptions): Promise<ExecResult>;
  /** Run helm with its caches inside the run folder; never throws on a non-zero exit. */
  helm(args: string[], options?: RunOptions): Promise<ExecResult>;
  /** The tail of kube-apiserver's log, for failure messages. */
  apiserverLogs(lines?: number): string;
  /** Stop kube-apiserver and start it again on the same port with the same etcd. */
  restartApiserver(options?: { signal?: 'SIGTERM' | 'SIGKILL' }): Promise<void>;
}

function statePath(): string {
  return process.env[STATE_ENV] ?? '';
}

function toolEnv(state: ControlPlaneState, kubeconfig: string): NodeJS.ProcessEnv {
  const home = join(state.runDir, 'home');
  return {
    ...process.env,
    KUBECONFIG: kubeconfig,
    // Keep kubectl's discovery cache and helm's files out of $HOME.
    KUBECACHEDIR: join(home, 'kube-cache'),
    HELM_CACHE_HOME: join(home, 'helm-cache'),
    HELM_CONFIG_HOME: join(home, 'helm-config'),
    HELM_DATA_HOME: join(home, 'helm-data'),
  };
}

/** The run's control plane, started on first use. Call it in `beforeAll` (allow ~3 min there). */
export async function getControlPlane(): Promise<ControlPlane> {
  const state = await ensureControlPlane(statePath());
  const kubeconfigPath = state.kubeconfigPath!;
  return {
    kubeconfigPath,
    server: state.server!,
    binDir: state.binDir!,
    timings: state.timings,
    kubeConfig() {
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfigPath);
      return kc;
    },
    kubectl(args, options = {}) {
      const kubeconfig = options.kubeconfig ?? kubeconfigPath;
      return run(join(state.binDir!, 'kubectl'), ['--kubeconfig', kubeconfig, ...args], {
        input: options.input,
        env: toolEnv(state, kubeconfig),
        cwd: options.cwd,
        timeoutMs: options.timeoutMs,
      });
    },
    helm(args, options = {}) {
      const kubeconfig = options.kubeconfig ?? kubeconfigPath;
      return run(state.helmPath!, args, { input: options.input, env: toolEnv(state, kubeconfig), cwd: options.cwd, timeoutMs: options.timeoutMs });
    },
    apiserverLogs(lines = 60) {
      // Read the current state: a restart in this run may have happened since.
      return logTail(state.apiserver?.logPath, lines);
    },
    async restartApiserver(options = {}) {
      await restartApiserverOf(statePath(), options);
    },
  };
}

/** A lower-case DNS-1123 label: `prefix-<random>` (max 63 characters). */
export function uniqueName(prefix: string): string {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 50) || 'test';
  return `${clean}-${randomBytes(4).toString('hex')}`;
}

export interface TestNamespace {
  name: string;
  /**
   * Delete it. With no namespace controller it stays Terminating and its objects remain; that
   * is fine because every name is unique. Never throws (it runs in afterAll).
   */
  delete(): Promise<void>;
}

/** A fresh namespace `prefix-<random>`; call `delete()` in afterAll. */
export async function createNamespace(prefix: string): Promise<TestNamespace> {
  const cp = await getControlPlane();
  const core = cp.kubeConfig().makeApiClient(CoreV1Api);
  const name = uniqueName(prefix);
  await core.createNamespace({ body: { metadata: { name, labels: { 'ladder.dev/test': 'true' } } } });
  return {
    name,
    async delete() {
      try {
        await core.deleteNamespace({ name });
      } catch {
        // already gone, or the control plane is being torn down
      }
    },
  };
}

export interface ServiceAccountIdentity {
  namespace: string;
  name: string;
  /** `system:serviceaccount:<ns>:<name>`, for `kubectl auth can-i --as` and RBAC subjects. */
  username: string;
  /** A bound token from TokenRequest. */
  token: string;
  /** A kubeconfig that authenticates with the token (default namespace: the SA's). */
  kubeconfigPath: string;
  /** A client-node KubeConfig acting as the ServiceAccount. */
  kubeConfig(): KubeConfig;
}

/** Create a ServiceAccount (no-op if it exists). */
export async function createServiceAccount(namespace: string, name: string): Promise<void> {
  const core = (await getControlPlane()).kubeConfig().makeApiClient(CoreV1Api);
  try {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  } catch (e) {
    if (!(e instanceof ApiException && e.code === 409)) throw e;
  }
}

/** TokenRequest for a ServiceAccount: a signed, bound token (default 1 h). */
export async function requestToken(namespace: string, name: string, options: { expirationSeconds?: number; audiences?: string[] } = {}): Promise<string> {
  const core = (await getControlPlane()).kubeConfig().makeApiClient(CoreV1Api);
  const body: AuthenticationV1TokenRequest = {
    spec: { expirationSeconds: options.expirationSeconds ?? 3600, audiences: options.audiences ?? [] },
  };
  const res = await core.createNamespacedServiceAccountToken({ namespace, name, body });
  const token = res.status?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
  return token;
}

/** Write a kubeconfig that authenticates with `token` against the test apiserver. */
export async function writeTokenKubeconfig(token: string, options: { name: string; namespace?: string }): Promise<string> {
  const state = await ensureControlPlane(statePath());
  const text = renderKubeconfig({ server: state.server!, caData: await readCa(state), userName: options.name, user: { token }, namespace: options.namespace });
  return writeRunFile(state, `kubeconfig-${options.name}-${randomBytes(3).toString('hex')}`, text);
}

/** Create the ServiceAccount, get it a token, and give back everything needed to act as it. */
export async function actAsServiceAccount(namespace: string, name: string): Promise<ServiceAccountIdentity> {
  await createServiceAccount(namespace, name);
  const token = await requestToken(namespace, name);
  const kubeconfigPath = await writeTokenKubeconfig(token, { name: `${namespace}-${name}`, namespace });
  return {
    namespace,
    name,
    username: `system:serviceaccount:${namespace}:${name}`,
    token,
    kubeconfigPath,
    kubeConfig() {
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfigPath);
      return kc;
    },
  };
}

/**
 * Poll `check` until it returns something other than undefined (or throw after `timeoutMs`,
 * with `describe()`'s text, e.g. the apiserver log tail). Errors inside `check` mean "not yet".
 */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  options: { timeoutMs?: number; intervalMs?: number; what: string; describe?: () => string },
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? ` (last error: ${last.message})` : '';
      const more = options.describe ? `\n${options.describe()}` : '';
      throw new Error(`timed out waiting for ${options.what}${why}${more}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
  }
}

/** The CRD generated from the schema (checked in under crds/). */
export const NOTIFYPIPELINE_CRD_PATH = join(repoRoot(), 'crds', 'notifypipelines.ladder.dev.yaml');

/**
 * Create or update a CRD from a YAML file and wait until it is Established (served). Idempotent:
 * several test files in one run may install the same CRD. Resolves with the stored object.
 */
export async function installCrd(path = NOTIFYPIPELINE_CRD_PATH, options: { timeoutMs?: number } = {}): Promise<V1CustomResourceDefinition> {
  const cp = await getControlPlane();
  const api = cp.kubeConfig().makeApiClient(ApiextensionsV1Api);
  // loadYaml maps wire names (x-kubernetes-validations…) to the model's; a plain YAML parse would
  // make client-node's serializer silently drop every CEL rule.
  const body = loadYaml<V1CustomResourceDefinition>(await readFile(path, 'utf8'));
  const name = body.metadata!.name!;
  try {
    await api.createCustomResourceDefinition({ body });
  } catch (e) {
    if (!(e instanceof ApiException && e.code === 409)) throw e;
    // Already there (another file of this run): replace it so a changed CRD takes effect.
    const current = await api.readCustomResourceDefinition({ name });
    await api.replaceCustomResourceDefinition({ name, body: { ...body, metadata: { ...body.metadata, resourceVersion: current.metadata!.resourceVersion } } });
  }
  return eventually(
    async () => {
      const crd = await api.readCustomResourceDefinition({ name });
      const established = crd.status?.conditions?.find((c) => c.type === 'Established')?.status === 'True';
      return established ? crd : undefined;
    },
    { what: `CRD ${name} Established`, timeoutMs: options.timeoutMs ?? 30_000, describe: () => cp.apiserverLogs(20) },
  );
}
