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

/** What `send` derives from a request's URL; kept for the last URL object seen (a fixed target reuses one). */
interface UrlParts {
  href: string;
  origin: string;
  path: string;
  /** Why the IP literal host is refused; undefined when allowed or when the host is a name. */
  refused: string | undefined;
  host: string;
}

/**
 * One attempt as an undici dispatch handler: the status and at most maxBytes of the body, or the
 * error. Lighter than `agent.request()`, which builds an AsyncResource, a Readable body and an
 * abort-signal listener for every request; here the attempt's own timer aborts the request.
 */
class Attempt {
  readonly #maxBytes: number;
  readonly #settle: (r: { status: number; body: string } | { error: unknown }) => void;
  #controller: { abort(reason: Error): void } | undefined;
  #status = 0;
  #expected = -1;
  #chunks: Buffer[] = [];
  #size = 0;
  #done = false;

  constructor(maxBytes: number, settle: (r: { status: number; body: string } | { error: unknown }) => void) {
    this.#maxBytes = maxBytes;
    this.#settle = settle;
  }

  /** Give up (the per-attempt timeout): abort the request now, or as soon as it starts. */
  cancel(): void {
    this.#done = true;
    this.#controller?.abort(new RequestTimeoutError());
  }

  onRequestStart(controller: { abort(reason: Error): void }): void {
    this.#controller = controller;
    // Timed out while waiting for its connection: never send it.
    if (this.#done) controller.abort(new RequestTimeoutError());
  }

  onResponseStart(_controller: unknown, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    this.#status = statusCode;
    const length = headers['content-length'];
    this.#expected = typeof length === 'string' && /^[0-9]+$/.test(length) ? Number(length) : -1;
  }

  onResponseData(controller: { abort(reason: Error): void }, chunk: Buffer): void {
    if (this.#done) return;
    const take = Math.min(chunk.length, this.#maxBytes - this.#size);
    this.#chunks.push(take === chunk.length ? chunk : chunk.subarray(0, take));
    this.#size += take;
    if (this.#size >= this.#maxBytes) {
      this.#finish();
      // Do not read the rest of an oversized body; a body that is complete anyway keeps its connection.
      if (this.#expected !== this.#size) controller.abort(new ResponseTooLargeError());
    }
  }

  onResponseEnd(): void {
    if (!this.#done) this.#finish();
  }

  onResponseError(_controller: unknown, err: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#settle({ error: err });
  }

  #finish(): void {
    this.#done = true;
    const chunks = this.#chunks;
    const body = chunks.length === 0 ? '' : chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
    this.#settle({ status: this.#status, body });
  }
}

/** Internal abort reasons; never surface as an attempt's error. */
class RequestTimeoutError extends Error {}
class ResponseTooLargeError extends Error {}

export function createDeliveryClient(options: DeliveryClientOptions): DeliveryClient {
  const agent = new Agent({
    connections: options.connections,
    pipelining: 1,
    keepAliveTimeout: 4_000,
    connect: { timeout: options.timeoutMs, lookup: guardedLookup(options.checkAddress) },
  });
  const method = options.method;
  let last: UrlParts | undefined;

  function partsOf(url: URL): UrlParts {
    const href = url.href;
    if (last !== undefined && last.href === href) return last;
    const host = url.hostname.replace(/^\[|\]$/g, '');
    // An IP literal is never looked up, so check it here; names are checked in the lookup.
    const refused = isIP(host) !== 0 ? options.checkAddress(host) : undefined;
    last = { href, origin: url.origin, path: `${url.pathname}${url.search}`, refused, host };
    return last;
  }

  function send(request: OutgoingRequest, headers: Record<string, string>): Promise<AttemptResult> {
    const parts = partsOf(request.url);
    if (parts.refused !== undefined) return Promise.resolve({ failure: { kind: 'blocked', address: parts.host, message: parts.refused } });
    return new Promise<AttemptResult>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const attempt = new Attempt(options.maxResponseBytes, (r) => {
        clearTimeout(timer);
        if ('error' in r) {
          const info = inspectError(r.error);
          if (info.blocked) resolve({ failure: { kind: 'blocked', address: info.blocked.address, message: info.blocked.detail } });
          else resolve({ failure: { kind: 'network', code: info.code ?? 'ERROR', message: info.message } });
        } else {
          resolve({ answer: r });
        }
      });
      timer = setTimeout(() => {
        attempt.cancel();
        resolve({ failure: { kind: 'timeout', afterMs: options.timeoutMs } });
      }, options.timeoutMs);
      agent.dispatch(
        {
          origin: parts.origin,
          path: parts.path,
          method,
          headers: { 'content-type': request.contentType, 'user-agent': USER_AGENT, ...headers },
          body: request.body,
        },
        attempt,
      );
    });
  }

  return {
    send,
    close: () => agent.close(),
    destroy: () => agent.destroy(),
  };
}
