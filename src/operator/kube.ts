/**
 * A thin Kubernetes REST client: JSON requests and watch streams over one pooled undici Agent.
 * Credentials and TLS material come from a KubeConnection (kubeconfig file, in-cluster, or a
 * client-node KubeConfig); everything above this file speaks plain paths and objects, so the
 * operator's API calls (and thus its RBAC) are visible in one place each.
 */
import { Agent } from 'undici';
import { KubeApiError } from './errors.js';
import type { KubeConnection } from './kubeconfig.js';

export type KubeObject = {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
    deletionTimestamp?: string;
    ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
};

export interface KubeList<T = KubeObject> {
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[];
}

export interface WatchEvent<T = KubeObject> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export type ContentType = 'application/json' | 'application/merge-patch+json' | 'application/apply-patch+yaml' | 'application/json-patch+json';

export interface RequestOptions {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: ContentType;
  signal?: AbortSignal;
}

export interface KubeClientOptions {
  /** Where and how to connect; a promise when it must first be worked out (e.g. from a client-node KubeConfig). */
  connection: KubeConnection | Promise<KubeConnection>;
  /** Per-request timeout (not for watches). Default 15 s. */
  requestTimeoutMs?: number;
}

interface Ready {
  connection: KubeConnection;
  server: URL;
  agent: Agent;
}

export class KubeClient {
  private readonly ready: Promise<Ready>;
  private readonly requestTimeoutMs: number;

  constructor(options: KubeClientOptions) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
    this.ready = Promise.resolve(options.connection).then((c) => ({
      connection: c,
      server: new URL(c.server),
      // No per-origin connection cap: every watch holds one connection for its lifetime.
      agent: new Agent({
        keepAliveTimeout: 30_000,
        connect: { ca: c.ca, cert: c.cert, key: c.key, ...(c.insecureSkipTlsVerify ? { rejectUnauthorized: false } : {}) },
      }),
    }));
    this.ready.catch(() => {}); // surfaced by the first request
  }

  /** One JSON request; resolves to the decoded body, throws KubeApiError on any non-2xx. */
  async request<T = KubeObject>(options: RequestOptions): Promise<T> {
    const { statusCode, body } = await this.send(options, false);
    const text = await body.text();
    if (statusCode >= 200 && statusCode < 300) return (text === '' ? {} : JSON.parse(text)) as T;
    throw statusError(options.method, options.path, statusCode, text);
  }

  /**
   * Stream a watch: `onEvent` for each event until the server ends the stream (resolves) or
   * it breaks (throws). An ERROR event (e.g. 410 Expired) is thrown as KubeApiError.
   */
  async watch<T = KubeObject>(path: string, query: RequestOptions['query'], onEvent: (e: WatchEvent<T>) => void, signal: AbortSignal): Promise<void> {
    const { statusCode, body } = await this.send({ method: 'GET', path, query: { ...query, watch: true }, signal }, true);
    if (statusCode !== 200) throw statusError('WATCH', path, statusCode, await body.text());
    let rest = '';
    for await (const chunk of body) {
      rest += (chunk as Buffer).toString('utf8');
      let nl: number;
      while ((nl = rest.indexOf('\n')) >= 0) {
        const line = rest.slice(0, nl).trim();
        rest = rest.slice(nl + 1);
        if (line === '') continue;
        const event = JSON.parse(line) as WatchEvent<T>;
        if (event.type === 'ERROR') {
          const s = event.object as { code?: number; reason?: string; message?: string };
          throw new KubeApiError('WATCH', path, s.code ?? 500, s.reason ?? 'Unknown', s.message ?? 'watch error');
        }
        onEvent(event);
      }
    }
  }

  async close(): Promise<void> {
    const r = await this.ready.catch(() => undefined);
    await r?.agent.close();
  }

  private async send(options: RequestOptions, streaming: boolean) {
    const { agent, connection, server } = await this.ready;
    const headers = await connection.headers();
    const url = new URL(options.path, server);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const reqHeaders: Record<string, string> = { ...headers, accept: 'application/json' };
    let body: string | undefined;
    if (options.body !== undefined) {
      reqHeaders['content-type'] = options.contentType ?? 'application/json';
      body = JSON.stringify(options.body);
    }
    const signals = [options.signal, streaming ? undefined : AbortSignal.timeout(this.requestTimeoutMs)].filter((s): s is AbortSignal => s !== undefined);
    try {
      return await agent.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: options.method,
        headers: reqHeaders,
        body,
        signal: signals.length > 0 ? AbortSignal.any(signals) : undefined,
        // Watches may be quiet for minutes; the server ends them (timeoutSeconds).
        bodyTimeout: streaming ? 0 : this.requestTimeoutMs,
        headersTimeout: this.requestTimeoutMs,
      });
    } catch (e) {
      throw new KubeApiError(options.method, options.path, 0, 'Unreachable', (e as Error).message, { cause: e });
    }
  }
}

function statusError(method: string, path: string, status: number, text: string): KubeApiError {
  let reason = 'Unknown';
  let message = text.slice(0, 500);
  try {
    const s = JSON.parse(text) as { reason?: string; message?: string };
    reason = s.reason ?? reason;
    message = s.message ?? message;
  } catch {
    // not a Status object; keep the raw text
  }
  return new KubeApiError(method, path, status, reason, message);
}
