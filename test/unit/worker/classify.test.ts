import { describe, expect, test } from '@jest/globals';
import { classifyAnswer, classifyFailure, successPredicate, type SuccessRule } from '../../../src/worker/index.js';

type Row = [status: number, body: string, expected: 'delivered' | 'retry' | 'park'];

const WX_OK = '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';
const WX_OK_PLAIN = '<xml>\n  <return_code>SUCCESS</return_code>\n</xml>';
const WX_FAIL = '<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[bad sign]]></return_msg></xml>';

const table: Array<[string, SuccessRule, Row[]]> = [
  ['alipay', { preset: 'alipay' }, [
    [200, 'success', 'delivered'],
    [200, 'SUCCESS', 'retry'],
    [200, 'success\n', 'retry'],
    [200, 'fail', 'retry'],
    [200, '', 'retry'],
    [201, 'success', 'retry'],
    [204, '', 'retry'],
    [302, 'success', 'retry'],
    [404, 'not found', 'retry'],
    [410, 'gone', 'park'],
    [500, 'success', 'retry'],
    [503, '', 'retry'],
  ]],
  ['wechatpay-v2', { preset: 'wechatpay-v2' }, [
    [200, WX_OK, 'delivered'],
    [200, WX_OK_PLAIN, 'delivered'],
    [200, WX_FAIL, 'retry'],
    [200, 'success', 'retry'],
    [200, '<xml><return_code>success</return_code></xml>', 'retry'],
    [500, WX_OK, 'retry'],
    [410, WX_OK, 'park'],
  ]],
  ['wechatpay-v3', { preset: 'wechatpay-v3' }, [
    [200, '', 'delivered'],
    [204, '', 'delivered'],
    [200, '{"code":"FAIL"}', 'delivered'],
    [201, '', 'retry'],
    [302, '', 'retry'],
    [400, '{"code":"FAIL"}', 'retry'],
    [429, '', 'retry'],
    [500, '', 'retry'],
  ]],
  ['http-2xx', { preset: 'http-2xx' }, [
    [200, 'anything', 'delivered'],
    [202, '', 'delivered'],
    [299, '', 'delivered'],
    [301, '', 'retry'],
    [304, '', 'retry'],
    [408, '', 'retry'],
    [410, '', 'park'],
    [502, '', 'retry'],
  ]],
  ['custom status + bodyPattern', { status: [200, 202], bodyPattern: '^(ok|OK)$' }, [
    [200, 'ok', 'delivered'],
    [202, 'OK', 'delivered'],
    [200, 'okay', 'retry'],
    [204, 'ok', 'retry'],
  ]],
  ['custom bodyPattern only (any 2xx)', { bodyPattern: '"result":\\s*"success"' }, [
    [200, '{"result": "success"}', 'delivered'],
    [299, '{"result":"success"}', 'delivered'],
    [300, '{"result":"success"}', 'retry'],
    [200, '{"result":"fail"}', 'retry'],
  ]],
  ['custom status only', { status: [200] }, [
    [200, '', 'delivered'],
    [201, '', 'retry'],
  ]],
];

describe.each(table)('success rule %s', (_name, rule, rows) => {
  const isSuccess = successPredicate(rule);
  test.each(rows)('HTTP %i with body %j is %s', (status, body, expected) => {
    const v = classifyAnswer(isSuccess, { status, body });
    expect(v.kind).toBe(expected);
    if (v.kind !== 'delivered') {
      expect(v.status).toBe(status);
      expect(v.reason).toContain(`HTTP ${status}`);
    }
  });
});

describe('status classes for a rule that never matches', () => {
  const never = successPredicate({ status: [599] });
  test.each([100, 199, 200, 204, 301, 302, 307, 400, 401, 403, 404, 408, 409, 422, 429, 500, 501, 502, 503, 504])('HTTP %i retries', (status) => {
    expect(classifyAnswer(never, { status, body: '' }).kind).toBe('retry');
  });
  test('HTTP 410 parks at once', () => {
    expect(classifyAnswer(never, { status: 410, body: '' })).toMatchObject({ kind: 'park', status: 410 });
  });
});

describe('failures without an answer', () => {
  test.each([
    [{ kind: 'timeout', afterMs: 300 } as const, 'retry', /no answer within 300 ms/],
    [{ kind: 'network', code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:1' } as const, 'retry', /ECONNREFUSED/],
    [{ kind: 'network', code: 'ECONNRESET', message: 'socket hang up' } as const, 'retry', /ECONNRESET/],
    [{ kind: 'network', code: 'ENOTFOUND', message: 'getaddrinfo ENOTFOUND x.invalid' } as const, 'retry', /ENOTFOUND/],
    [{ kind: 'blocked', address: '127.0.0.1', message: '127.0.0.1 is a loopback address' } as const, 'park', /SSRF guard: 127\.0\.0\.1 is a loopback/],
    [{ kind: 'invalid-target', message: 'no URL' } as const, 'park', /undeliverable: no URL/],
  ])('%j → %s', (failure, kind, reason) => {
    const v = classifyFailure(failure);
    expect(v.kind).toBe(kind);
    expect(v.kind !== 'delivered' && v.reason).toMatch(reason);
  });
});

test('a long answer body is cut in the reason', () => {
  const v = classifyAnswer(successPredicate({ preset: 'alipay' }), { status: 500, body: 'x'.repeat(10_000) });
  expect(v.kind !== 'delivered' && v.reason.length).toBeLessThan(200);
});
