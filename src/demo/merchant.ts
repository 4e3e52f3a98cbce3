/**
 * A merchant's notify endpoint on loopback, for the demo and the benchmark: it reads the order
 * number from the callback (form or JSON body, or the query string), counts attempts per order,
 * and answers what its `answer` function says.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MerchantRequest {
  /** `out_trade_no` of the callback, or '' when it carries none. */
  orderId: string;
  /** 1 for the first callback of this order seen by this merchant. */
  attempt: number;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface MerchantAnswer {
  status: number;
  body: string;
  /** Answer only after this long (a slow merchant). */
  delayMs?: number;
}

export interface MerchantOptions {
  /** What to answer; default: HTTP 200 `success` (Alipay's confirmation). */
  answer?: (req: MerchantRequest) => MerchantAnswer;
  /** Default 0 (any free port). */
  port?: number;
}

export interface Merchant {
  /** e.g. http://127.0.0.1:41234/notify */
  readonly url: string;
  /** Callbacks received so far. */
  received(): number;
  attemptsOf(orderId: string): number;
  close(): Promise<void>;
}

function orderOf(body: string, rawUrl: string): string {
  const fromForm = new URLSearchParams(body).get('out_trade_no');
  if (fromForm) return fromForm;
  if (body.startsWith('{')) {
    try {
      const v = (JSON.parse(body) as { out_trade_no?: unknown }).out_trade_no;
      if (typeof v === 'string') return v;
    } catch {
      // not JSON after all; fall through to the query string
    }
  }
  return new URL(rawUrl, 'http://merchant').searchParams.get('out_trade_no') ?? '';
}

const SUCCESS: MerchantAnswer = { status: 200, body: 'success' };

export async function startMerchant(options: MerchantOptions = {}): Promise<Merchant> {
  const answer = options.answer ?? (() => SUCCESS);
  const attempts = new Map<string, number>();
  let received = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const orderId = orderOf(body, req.url ?? '/');
      const attempt = (attempts.get(orderId) ?? 0) + 1;
      attempts.set(orderId, attempt);
      received++;
      const a = answer({ orderId, attempt, headers: req.headers, body });
      const send = () => {
        res.writeHead(a.status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(a.body) });
        res.end(a.body);
      };
      if (a.delayMs !== undefined && a.delayMs > 0) setTimeout(send, a.delayMs);
      else send();
    });
  });
  // Keep-alive connections from the worker's pool must not outlive close().
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/notify`,
    received: () => received,
    attemptsOf: (orderId) => attempts.get(orderId) ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
