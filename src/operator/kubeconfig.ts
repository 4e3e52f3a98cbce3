/**
 * Where the API server is and how to authenticate, read from a kubeconfig file or the
 * in-cluster ServiceAccount files. Small on purpose: importing @kubernetes/client-node costs
 * the process ~90 MB of memory (it loads every generated model), more than the rest of the
 * operator together, so the operator reads credentials itself and accepts a client-node
 * KubeConfig only from callers that already hold one (tests, the benchmark).
 *
 * Supported: server + CA (file or data) or insecure-skip-tls-verify; client certificate and key
 * (file or data); bearer token (inline or tokenFile, re-read so rotated tokens work); basic
 * auth. Not supported: exec and auth-provider plugins (use a token or certificate).
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';

/** Everything the REST client needs to reach and authenticate to the API server. */
export interface KubeConnection {
  server: string;
  ca?: string;
  cert?: string;
  key?: string;
  insecureSkipTlsVerify?: boolean;
  /** Default namespace of the context (the ServiceAccount's namespace in-cluster). */
  namespace?: string;
  /** Authorization headers for the next request (token files are re-read). */
  headers(): Promise<Record<string, string>>;
}

/** The part of a @kubernetes/client-node KubeConfig this module uses (duck-typed, so it is never imported at runtime). */
export interface KubeConfigLike {
  getCurrentCluster(): { server: string } | null;
  getContextObject?(name: string): { namespace?: string } | null;
  getCurrentContext?(): string;
  applyToHTTPSOptions(opts: object): Promise<void>;
}

export class KubeconfigError extends Error {
  readonly code = 'LADDER_KUBECONFIG';
  constructor(
    readonly source: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${source}: ${message}`, options);
    this.name = 'KubeconfigError';
  }
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** `--kubeconfig PATH`, else the first file in $KUBECONFIG, else in-cluster. */
export function loadKubeConnection(path?: string, env: NodeJS.ProcessEnv = process.env): KubeConnection {
  if (path !== undefined && path !== '') return loadKubeconfigFile(path);
  const fromEnv = env['KUBECONFIG']?.split(':').find((p) => p !== '');
  if (fromEnv !== undefined) return loadKubeconfigFile(fromEnv);
  return inClusterConnection(env);
}

export function inClusterConnection(env: NodeJS.ProcessEnv = process.env, dir = SA_DIR): KubeConnection {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  if (!host || !port) throw new KubeconfigError('in-cluster', 'KUBERNETES_SERVICE_HOST/PORT are not set: pass --kubeconfig or set $KUBECONFIG');
  const tokenFile = join(dir, 'token');
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ca: read(join(dir, 'ca.crt'), 'in-cluster'),
    namespace: tryRead(join(dir, 'namespace'))?.trim(),
    headers: tokenHeaders(tokenFile),
  };
}

export function loadKubeconfigFile(path: string, contextName?: string): KubeConnection {
  const text = read(path, path);
  let doc: Record<string, any>;
  try {
    doc = (parse(text) ?? {}) as Record<string, any>;
  } catch (e) {
    throw new KubeconfigError(path, 'is not valid YAML', { cause: e });
  }
  const byName = (list: unknown, name: string) => (Array.isArray(list) ? list.find((x: { name?: string }) => x?.name === name) : undefined);
  const ctxName = contextName ?? doc['current-context'];
  const ctx = byName(doc['contexts'], ctxName)?.context;
  if (ctx === undefined) throw new KubeconfigError(path, `has no context "${ctxName ?? ''}"`);
  const cluster = byName(doc['clusters'], ctx.cluster)?.cluster;
  if (cluster?.server === undefined) throw new KubeconfigError(path, `context "${ctxName}" names no cluster with a server`);
  const user = byName(doc['users'], ctx.user)?.user ?? {};
  if (user.exec !== undefined || user['auth-provider'] !== undefined) {
    throw new KubeconfigError(path, `user "${ctx.user}" uses an exec or auth-provider plugin, which ladder does not run; use a token or client certificate`);
  }
  const base = dirname(path);
  const file = (p: string) => read(isAbsolute(p) ? p : join(base, p), path);
  const data = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');
  const pick = (dataKey: string, fileKey: string, from: Record<string, any>) =>
    from[dataKey] !== undefined ? data(from[dataKey]) : from[fileKey] !== undefined ? file(from[fileKey]) : undefined;

  let headers: () => Promise<Record<string, string>>;
  if (typeof user.token === 'string') {
    const h = { authorization: `Bearer ${user.token}` };
    headers = async () => h;
  } else if (typeof user.tokenFile === 'string') {
    headers = tokenHeaders(isAbsolute(user.tokenFile) ? user.tokenFile : join(base, user.tokenFile));
  } else if (typeof user.username === 'string') {
    const h = { authorization: `Basic ${Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64')}` };
    headers = async () => h;
  } else headers = async () => ({});

  return {
    server: cluster.server,
    ca: pick('certificate-authority-data', 'certificate-authority', cluster),
    cert: pick('client-certificate-data', 'client-certificate', user),
    key: pick('client-key-data', 'client-key', user),
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
    namespace: ctx.namespace,
    headers,
  };
}

/** Adapt a client-node KubeConfig (supports everything client-node supports, e.g. exec plugins). */
export async function fromKubeConfig(kc: KubeConfigLike): Promise<KubeConnection> {
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new KubeconfigError('KubeConfig', 'has no current cluster');
  const tls: { ca?: unknown; cert?: unknown; key?: unknown; rejectUnauthorized?: boolean } = {};
  await kc.applyToHTTPSOptions(tls);
  const str = (v: unknown) => (v === undefined ? undefined : Buffer.isBuffer(v) ? v.toString('utf8') : String(v));
  return {
    server: cluster.server,
    ca: str(tls.ca),
    cert: str(tls.cert),
    key: str(tls.key),
    insecureSkipTlsVerify: tls.rejectUnauthorized === false,
    namespace: kc.getCurrentContext && kc.getContextObject ? (kc.getContextObject(kc.getCurrentContext())?.namespace ?? undefined) : undefined,
    async headers() {
      const opts: { headers?: Record<string, unknown>; auth?: string } = {};
      await kc.applyToHTTPSOptions(opts);
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(opts.headers ?? {})) out[k.toLowerCase()] = String(v);
      if (opts.auth !== undefined) out['authorization'] = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
      return out;
    },
  };
}

/** Bearer token from a file that the kubelet rotates: re-read at most once a minute. */
function tokenHeaders(path: string, refreshMs = 60_000): () => Promise<Record<string, string>> {
  let cached: { at: number; headers: Record<string, string> } | undefined;
  return async () => {
    if (cached === undefined || Date.now() - cached.at > refreshMs) {
      cached = { at: Date.now(), headers: { authorization: `Bearer ${read(path, path).trim()}` } };
    }
    return cached.headers;
  };
}

function read(path: string, source: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new KubeconfigError(source, `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

function tryRead(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
