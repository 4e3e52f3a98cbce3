/**
 * The HTTP side of the worker: one pooled keep-alive undici Agent per worker, a per-attempt
 * timeout covering connect to end of body, at most maxResponseBytes of the answer read, and the
 * SSRF guard applied to the resolved address at connect time.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import { Agent } from 'undici';
import type { AttemptFailure, HttpAnswer } from './classify.js';
import { BlockedAddressError } from './errors.js';
import type { OutgoingRequest } from './target.js';

export const USER_AGENT = 'ladder/0.1.0';

export interface DeliveryClientOptions {
  /** Connections per merchant origin (= the worker's concurrency). */
  connections: number;
  method: 'POST' | 'PUT';
  timeoutMs: number;
  maxResponseBytes: number;
  /** Why an address is refused, or undefined when it is allowed (ssrf.ts). */
  checkAddress: (address: string) => string | undefined;
}

export type AttemptResult = { answer: HttpAnswer } | { failure: AttemptFailure };

export interface DeliveryClient {
  send(request: OutgoingRequest, headers: Record<string, string>): Promise<AttemptResult>;
  close(): Promise<void>;
  destroy(): Promise<void>;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A dns.lookup that drops refused addresses and fails with BlockedAddressError when none is left. */
function guardedLookup(check: (address: string) => string | undefined) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      const allowed = addresses.filter((a) => check(a.address) === undefined);
      if (allowed.length === 0) {
        const first = addresses[0];
        const detail = first ? check(first.address) ?? 'refused' : 'no address';
        return callback(new BlockedAddressError(hostname, first?.address ?? '', detail) as unknown as NodeJS.ErrnoException, '');
      }
      if (options.all) return callback(null, allowed);
      callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
}

/** Find a BlockedAddressError or an errno code anywhere in an error's cause chain. */
function inspectError(e: unknown): { blocked?: BlockedAddressError; code?: string; message: string } {
  const seen = new Set<unknown>();
  const queue: unknown[] = [e];
  let code: string | undefined;
  while (queue.length > 0) {
    const cur = queue.shift();
    if (cur === null || typeof cur !== 'object' || seen.has(cur)) continue;
    seen.add(cur);
    if (cur instanceof BlockedAddressError) return { blocked: cur, message: cur.message };
    const c = (cur as { code?: unknown }).code;
    if (code === undefined && typeof c === 'string' && !c.startsWith('UND_ERR_')) code = c;
    queue.push((cur as { cause?: unknown }).cause);
    if (cur instanceof AggregateError) queue.push(...cur.errors);
  }
  const first = e as { code?: unknown; message?: unknown };
  return { code: code ?? (typeof first.code === 'string' ? first.code : 'ERROR'), message: String(first.message ?? e) };
}

export function createDeliveryClient(options: DeliveryClientOptions): DeliveryClient {
  const agent = new Agent({
    connections: options.connections,
    pipelining: 1,
    keepAliveTimeout: 4_000,
    connect: { timeout: options.timeoutMs, lookup: guardedLookup(options.checkAddress) },
  });

  async function send(request: OutgoingRequest, headers: Record<string, string>): Promise<AttemptResult> {
    const host = request.url.hostname.replace(/^\[|\]$/g, '');
    // An IP literal is never looked up, so check it here; names are checked in the lookup.
    if (isIP(host) !== 0) {
      const refused = options.checkAddress(host);
      if (refused !== undefined) return { failure: { kind: 'blocked', address: host, message: refused } };
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), options.timeoutMs);
    try {
      const res = await agent.request({
        origin: request.url.origin,
        path: `${request.url.pathname}${request.url.search}`,
        method: options.method,
        headers: { 'content-type': request.contentType, 'user-agent': USER_AGENT, ...headers },
        body: request.body,
        signal: controller.signal,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        const take = Math.min(chunk.length, options.maxResponseBytes - size);
        chunks.push(chunk.subarray(0, take));
        size += take;
        if (size >= options.maxResponseBytes) break; // leaving the loop destroys the rest of the body
      }
      return { answer: { status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') } };
    } catch (e) {
      if (controller.signal.aborted) return { failure: { kind: 'timeout', afterMs: options.timeoutMs } };
      const info = inspectError(e);
      if (info.blocked) return { failure: { kind: 'blocked', address: info.blocked.address, message: info.blocked.detail } };
      return { failure: { kind: 'network', code: info.code ?? 'ERROR', message: info.message } };
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    send,
    close: () => agent.close(),
    destroy: () => agent.destroy(),
  };
}
