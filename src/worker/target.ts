/**
 * Where one notification goes and what is sent: a pure function of the pipeline's target rule
 * and the message. A message without a usable target is parked at once (see classify.ts).
 */
import type { NotifyPipelineSpec } from '../api/index.js';

export type TargetRule = NotifyPipelineSpec['delivery']['target'];

export interface MessageView {
  body: Buffer;
  contentType?: string | undefined;
  headers: Record<string, unknown>;
}

export interface OutgoingRequest {
  url: URL;
  body: Buffer;
  contentType: string;
}

export type TargetResult = { ok: true; request: OutgoingRequest } | { ok: false; reason: string };

const FORM = 'application/x-www-form-urlencoded';

function parseHttpUrl(text: string, where: string): URL | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `${where} "${text.slice(0, 200)}" is not a URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `${where} "${text.slice(0, 200)}" is not an http(s) URL`;
  if (url.hostname === '') return `${where} "${text.slice(0, 200)}" has no host`;
  return url;
}

function headerText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return undefined;
}

export function resolveTarget(rule: TargetRule, msg: MessageView): TargetResult {
  const contentType = msg.contentType ?? 'application/octet-stream';
  if (rule.url !== undefined) {
    const url = parseHttpUrl(rule.url, 'delivery.target.url');
    return typeof url === 'string' ? { ok: false, reason: url } : { ok: true, request: { url, body: msg.body, contentType } };
  }
  if (rule.fromHeader !== undefined) {
    const text = headerText(msg.headers[rule.fromHeader])?.trim();
    if (text === undefined || text === '') return { ok: false, reason: `the message has no "${rule.fromHeader}" header with the callback URL` };
    const url = parseHttpUrl(text, `header ${rule.fromHeader}`);
    return typeof url === 'string' ? { ok: false, reason: url } : { ok: true, request: { url, body: msg.body, contentType } };
  }
  if (rule.fromBody === true) {
    // The seed's format: the body is `https://merchant/notify?a=1&b=2`; the merchant gets a form
    // POST of `a=1&b=2` to `https://merchant/notify`, as Alipay posts its notify parameters.
    const text = msg.body.toString('utf8').trim();
    if (text === '') return { ok: false, reason: 'the message body is empty (fromBody expects the notify URL with its query string)' };
    const url = parseHttpUrl(text, 'the message body');
    if (typeof url === 'string') return { ok: false, reason: url };
    const form = url.search.startsWith('?') ? url.search.slice(1) : url.search;
    url.search = '';
    url.hash = '';
    return { ok: true, request: { url, body: Buffer.from(form, 'utf8'), contentType: FORM } };
  }
  return { ok: false, reason: 'the pipeline has no delivery target' };
}

/**
 * `resolveTarget` compiled once per pipeline: a fixed URL is parsed once instead of per message
 * (every request then shares that one URL object, which nobody mutates).
 */
export function targetResolver(rule: TargetRule): (msg: MessageView) => TargetResult {
  if (rule.url === undefined) return (msg) => resolveTarget(rule, msg);
  const url = parseHttpUrl(rule.url, 'delivery.target.url');
  if (typeof url === 'string') {
    const refused: TargetResult = { ok: false, reason: url };
    return () => refused;
  }
  return (msg) => ({ ok: true, request: { url, body: msg.body, contentType: msg.contentType ?? 'application/octet-stream' } });
}
