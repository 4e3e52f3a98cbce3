/**
 * What a merchant's answer (or the lack of one) means: a pure function of the success rule and
 * the outcome of one HTTP attempt. Table-tested in test/unit/worker/classify.test.ts.
 *
 * Which failures retry and which park at once:
 *
 * | outcome                                            | verdict        | why |
 * |----------------------------------------------------|----------------|-----|
 * | the success rule matches                           | delivered      | |
 * | 410 Gone                                           | park at once   | the merchant says the endpoint is gone for good; retrying cannot help |
 * | any other status (1xx-5xx, incl. 3xx and 4xx)      | retry          | Alipay and WeChat Pay retry every non-success answer; a 4xx is usually a merchant bug (a 404 mid-deploy, a 401 after a key rotation) fixed within the ladder, and the ladder is bounded: the notification is parked, never dropped, when it runs out |
 * | 2xx that fails the rule (e.g. alipay body "fail")  | retry          | the merchant has not confirmed |
 * | timeout, connection refused/reset, DNS failure, TLS error | retry   | transient by nature |
 * | no target, malformed or non-http(s) URL            | park at once   | the message itself is wrong; retrying would loop |
 * | address refused by the SSRF guard                  | park at once   | configuration, not chance, decides it |
 *
 * Redirects are never followed (a 3xx is a failure): following them would let a merchant
 * point the worker anywhere, around the SSRF guard.
 */
import type { NotifyPipelineSpec } from '../api/index.js';

export type SuccessRule = NotifyPipelineSpec['delivery']['success'];

/** The part of a merchant's answer that is classified: status and the first maxResponseBytes of the body. */
export interface HttpAnswer {
  status: number;
  body: string;
}

/** Why an attempt produced no HTTP answer. */
export type AttemptFailure =
  | { kind: 'timeout'; afterMs: number }
  | { kind: 'network'; code: string; message: string }
  | { kind: 'blocked'; address: string; message: string }
  | { kind: 'invalid-target'; message: string };

export type Verdict =
  | { kind: 'delivered'; status: number }
  | { kind: 'retry'; reason: string; status?: number }
  | { kind: 'park'; reason: string; status?: number };

/** Statuses that park at once instead of retrying. */
export const PARK_AT_ONCE_STATUSES: ReadonlySet<number> = new Set([410]);

const is2xx = (s: number) => s >= 200 && s <= 299;
// WeChat Pay v2 answers XML; the value may be wrapped in CDATA and padded with whitespace.
const WECHAT_V2_SUCCESS = /<return_code>\s*(?:<!\[CDATA\[\s*SUCCESS\s*\]\]>|SUCCESS)\s*<\/return_code>/;

/** Build the success predicate once per pipeline (the custom bodyPattern is compiled here). */
export function successPredicate(rule: SuccessRule): (a: HttpAnswer) => boolean {
  switch (rule.preset) {
    case 'alipay':
      return (a) => a.status === 200 && a.body === 'success';
    case 'wechatpay-v2':
      return (a) => a.status === 200 && WECHAT_V2_SUCCESS.test(a.body);
    case 'wechatpay-v3':
      return (a) => a.status === 200 || a.status === 204;
    case 'http-2xx':
      return (a) => is2xx(a.status);
    case undefined: {
      const statuses = rule.status !== undefined ? new Set(rule.status) : undefined;
      const pattern = rule.bodyPattern !== undefined ? new RegExp(rule.bodyPattern) : undefined;
      return (a) => (statuses ? statuses.has(a.status) : is2xx(a.status)) && (pattern ? pattern.test(a.body) : true);
    }
  }
}

/** A short, log-safe excerpt of a body for reasons and the ladder-last-error header. */
function excerpt(body: string, max = 120): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

export function classifyAnswer(isSuccess: (a: HttpAnswer) => boolean, answer: HttpAnswer): Verdict {
  if (isSuccess(answer)) return { kind: 'delivered', status: answer.status };
  const what = `HTTP ${answer.status}${answer.body === '' ? '' : ` "${excerpt(answer.body)}"`}`;
  if (PARK_AT_ONCE_STATUSES.has(answer.status)) return { kind: 'park', reason: `${what}: the merchant says the endpoint is gone`, status: answer.status };
  return { kind: 'retry', reason: `${what} is not a success`, status: answer.status };
}

export function classifyFailure(failure: AttemptFailure): Verdict {
  switch (failure.kind) {
    case 'timeout':
      return { kind: 'retry', reason: `no answer within ${failure.afterMs} ms` };
    case 'network':
      return { kind: 'retry', reason: `${failure.code}: ${failure.message}` };
    case 'blocked':
      return { kind: 'park', reason: `refused by the SSRF guard: ${failure.message}` };
    case 'invalid-target':
      return { kind: 'park', reason: `undeliverable: ${failure.message}` };
  }
}
