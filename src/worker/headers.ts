/**
 * Ladder's own bookkeeping on each message (never `x-death`, whose shape changed across RabbitMQ
 * versions): `ladder-id`, `ladder-attempt`, `ladder-first-seen`, `ladder-last-error`,
 * `ladder-parked-reason`. Pure: the clock and the id source are passed in.
 */

export const HEADER = {
  id: 'ladder-id',
  attempt: 'ladder-attempt',
  firstSeen: 'ladder-first-seen',
  lastError: 'ladder-last-error',
  parkedReason: 'ladder-parked-reason',
} as const;

/** Bound of ladder-last-error and ladder-parked-reason, in UTF-8 bytes. */
export const MAX_REASON_BYTES = 1024;

/** The properties of a consumed message that bookkeeping and republishing look at. */
export interface ConsumedMessage {
  messageId?: string | undefined;
  headers?: Record<string, unknown> | undefined;
  contentType?: string | undefined;
  contentEncoding?: string | undefined;
  correlationId?: string | undefined;
  replyTo?: string | undefined;
  timestamp?: number | undefined;
  type?: string | undefined;
  appId?: string | undefined;
  priority?: number | undefined;
}

export interface Bookkeeping {
  /** Stable across attempts. */
  id: string;
  /** This attempt, 1-based. */
  attempt: number;
  /** RFC 3339 time the worker first saw the notification. */
  firstSeen: string;
}

/** A header value as text (AMQP headers arrive as strings or byte buffers); undefined when empty. */
export function headerText(v: unknown): string | undefined {
  if (typeof v === 'string' && v !== '') return v;
  if (Buffer.isBuffer(v) && v.length > 0) return v.toString('utf8');
  return undefined;
}

/** A header value as a non-negative integer count; 0 when absent or malformed. */
export function headerCount(v: unknown): number {
  const n = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : typeof v === 'string' || Buffer.isBuffer(v) ? Number(String(v)) : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

export function readBookkeeping(msg: ConsumedMessage, nowMs: number, newId: () => string): Bookkeeping {
  const h = msg.headers ?? {};
  return {
    id: headerText(h[HEADER.id]) ?? headerText(msg.messageId) ?? newId(),
    attempt: headerCount(h[HEADER.attempt]) + 1,
    firstSeen: headerText(h[HEADER.firstSeen]) ?? new Date(nowMs).toISOString(),
  };
}

/** Cut `s` to at most `maxBytes` of UTF-8 without splitting a character. */
export function boundBytes(s: string, maxBytes = MAX_REASON_BYTES): string {
  if (Buffer.byteLength(s, 'utf8') <= maxBytes) return s;
  let out = '';
  let used = 0;
  for (const ch of s) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (used + n > maxBytes - 3) break;
    out += ch;
    used += n;
  }
  return `${out}…`;
}

// Headers the broker writes when dead-lettering; they describe the old message, and copying them
// would make them grow with every rung.
const BROKER_HEADER = /^x-(death|first-death-|last-death-)/;

/** Headers for the republished message: the producer's, minus broker bookkeeping, plus ours. */
export function republishHeaders(original: Record<string, unknown> | undefined, book: Bookkeeping, lastError: string, parkedReason?: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(original ?? {})) {
    if (!BROKER_HEADER.test(k) && k !== HEADER.parkedReason) out[k] = v;
  }
  out[HEADER.id] = book.id;
  out[HEADER.attempt] = book.attempt;
  out[HEADER.firstSeen] = book.firstSeen;
  out[HEADER.lastError] = boundBytes(lastError);
  if (parkedReason !== undefined) out[HEADER.parkedReason] = boundBytes(parkedReason);
  return out;
}

/**
 * The AMQP properties of the republished message: the producer's, kept, except `expiration`
 * (a per-message TTL would fight the rung's TTL and could expire a parked message) and `userId`
 * (the broker rejects a user id other than the connection's). Persistent and mandatory, to the
 * default exchange so it reaches exactly the named queue.
 */
export function republishEnvelope(msg: ConsumedMessage, queue: string, headers: Record<string, unknown>) {
  return {
    exchange: '',
    routingKey: queue,
    mandatory: true,
    durable: true,
    headers,
    ...(msg.contentType !== undefined ? { contentType: msg.contentType } : {}),
    ...(msg.contentEncoding !== undefined ? { contentEncoding: msg.contentEncoding } : {}),
    ...(msg.correlationId !== undefined ? { correlationId: msg.correlationId } : {}),
    ...(msg.replyTo !== undefined ? { replyTo: msg.replyTo } : {}),
    ...(msg.messageId !== undefined ? { messageId: msg.messageId } : {}),
    ...(msg.timestamp !== undefined ? { timestamp: msg.timestamp } : {}),
    ...(msg.type !== undefined ? { type: msg.type } : {}),
    ...(msg.appId !== undefined ? { appId: msg.appId } : {}),
    ...(msg.priority !== undefined ? { priority: msg.priority } : {}),
  };
}
