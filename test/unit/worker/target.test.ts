import { describe, expect, test } from '@jest/globals';
import { resolveTarget, targetResolver } from '../../../src/worker/index.js';

const msg = (body: string, headers: Record<string, unknown> = {}, contentType?: string) => ({ body: Buffer.from(body), headers, contentType });

describe('resolveTarget', () => {
  test('fromBody posts the query string as a form to the URL without it (the seed format)', () => {
    const r = resolveTarget({ fromBody: true }, msg('http://shop.example:8080/pay/notify?out_trade_no=42&trade_status=TRADE_SUCCESS&sign=a%2Bb\n'));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.request.url.href).toBe('http://shop.example:8080/pay/notify');
    expect(r.request.body.toString()).toBe('out_trade_no=42&trade_status=TRADE_SUCCESS&sign=a%2Bb');
    expect(r.request.contentType).toBe('application/x-www-form-urlencoded');
  });

  test('fromBody with no query string posts an empty form', () => {
    const r = resolveTarget({ fromBody: true }, msg('https://shop.example/notify'));
    expect(r.ok && r.request.body.length).toBe(0);
  });

  test('fixed url sends the body as is with the producer content type', () => {
    const r = resolveTarget({ url: 'https://shop.example/hook' }, msg('{"a":1}', {}, 'application/json'));
    expect(r.ok && [r.request.url.href, r.request.body.toString(), r.request.contentType]).toEqual(['https://shop.example/hook', '{"a":1}', 'application/json']);
  });

  test('fromHeader reads the URL from the header (string or bytes); default content type is octet-stream', () => {
    const a = resolveTarget({ fromHeader: 'notify-url' }, msg('x', { 'notify-url': 'http://a.example/n?x=1' }));
    expect(a.ok && a.request.url.href).toBe('http://a.example/n?x=1');
    expect(a.ok && a.request.contentType).toBe('application/octet-stream');
    const b = resolveTarget({ fromHeader: 'notify-url' }, msg('x', { 'notify-url': Buffer.from('http://b.example/') }));
    expect(b.ok && b.request.url.host).toBe('b.example');
  });

  test.each([
    [{ fromBody: true }, msg(''), /body is empty/],
    [{ fromBody: true }, msg('not a url'), /is not a URL/],
    [{ fromBody: true }, msg('ftp://shop.example/notify?a=1'), /not an http\(s\) URL/],
    [{ fromBody: true }, msg('javascript:alert(1)'), /not an http\(s\) URL/],
    [{ fromHeader: 'notify-url' }, msg('x'), /no "notify-url" header/],
    [{ fromHeader: 'notify-url' }, msg('x', { 'notify-url': 42 }), /no "notify-url" header/],
    [{ fromHeader: 'notify-url' }, msg('x', { 'notify-url': 'file:///etc/passwd' }), /not an http\(s\) URL/],
    [{}, msg('x'), /no delivery target/],
  ])('%j with %j is undeliverable', (rule, m, reason) => {
    const r = resolveTarget(rule, m);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(reason);
  });
});

describe('targetResolver (resolveTarget compiled once per pipeline)', () => {
  const rules = [{ url: 'https://shop.example/hook?k=1' }, { url: 'not a url' }, { url: 'ftp://shop.example/x' }, { fromHeader: 'notify-url' }, { fromBody: true }, {}];
  const messages = [
    msg('{"a":1}', {}, 'application/json'),
    msg('http://shop.example/notify?a=1', { 'notify-url': 'http://a.example/n' }),
    msg('', {}),
  ];
  test.each(rules)('%j gives what resolveTarget gives, message after message', (rule) => {
    const resolve = targetResolver(rule);
    const view = (r: ReturnType<typeof resolveTarget>) => (r.ok ? { href: r.request.url.href, body: r.request.body.toString(), contentType: r.request.contentType } : r);
    for (const m of [...messages, ...messages]) expect(view(resolve(m))).toEqual(view(resolveTarget(rule, m)));
  });
});
