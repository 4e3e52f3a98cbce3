/** A real HTTP merchant on 127.0.0.1, port 0, that answers as the test tells it and records every arrival. */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Arrival {
  method: string;
  path: string;
  query: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  at: number;
}

export interface Merchant {
  url: string;
  port: number;
  arrivals: Arrival[];
  close(): Promise<void>;
}

/** `respond` answers one request; it may also leave it hanging or destroy the socket. */
export async function startMerchant(respond: (a: Arrival, res: ServerResponse) => void): Promise<Merchant> {
  const arrivals: Arrival[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const [path = '/', query = ''] = (req.url ?? '/').split('?');
      const a: Arrival = { method: req.method ?? '', path, query, headers: req.headers, body: Buffer.concat(chunks), at: Date.now() };
      arrivals.push(a);
      respond(a, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    arrivals,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

export function answer(res: ServerResponse, status: number, body = '', headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(body);
}
