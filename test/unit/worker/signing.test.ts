import { describe, expect, test } from '@jest/globals';
import { Webhook } from 'standardwebhooks';
import { sign, signingKey, SigningSecretError, webhookHeaders } from '../../../src/worker/index.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

describe('Standard Webhooks signing', () => {
  test('a signature verifies with the standardwebhooks package', () => {
    const body = Buffer.from('{"out_trade_no":"42","total_amount":"9.99"}');
    const ts = Math.floor(Date.now() / 1000);
    const headers = webhookHeaders({ id: 'msg_1', timestampSec: ts, body, key: signingKey(SECRET) });
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(SECRET).verify(body, headers)).toEqual({ out_trade_no: '42', total_amount: '9.99' });
  });

  test('a form body (not JSON) verifies too', () => {
    const body = Buffer.from('out_trade_no=42&trade_status=TRADE_SUCCESS');
    const headers = webhookHeaders({ id: 'msg_2', timestampSec: Math.floor(Date.now() / 1000), body, key: signingKey(SECRET) });
    expect(() => new Webhook(SECRET).verify(body, headers, { jsonParse: false })).not.toThrow();
  });

  test('a changed body, id or timestamp does not verify', () => {
    const ts = Math.floor(Date.now() / 1000);
    const key = signingKey(SECRET);
    const headers = webhookHeaders({ id: 'msg_3', timestampSec: ts, body: Buffer.from('a=1'), key });
    const wh = new Webhook(SECRET);
    expect(() => wh.verify('a=2', headers, { jsonParse: false })).toThrow();
    expect(() => wh.verify('a=1', { ...headers, 'webhook-id': 'msg_4' }, { jsonParse: false })).toThrow();
    expect(() => wh.verify('a=1', { ...headers, 'webhook-timestamp': String(ts + 1) }, { jsonParse: false })).toThrow();
  });

  test('matches the Standard Webhooks reference vector', () => {
    // Test vector from the Standard Webhooks specification's reference libraries.
    const key = signingKey(SECRET);
    const body = Buffer.from('{"test": 2432232314}');
    expect(sign(key, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, body)).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  test('without a key there is no signature header', () => {
    expect(webhookHeaders({ id: 'i', timestampSec: 1, body: Buffer.alloc(0) })).toEqual({ 'webhook-id': 'i', 'webhook-timestamp': '1' });
  });

  test.each(['whsec_***notbase64***', 'whsec_c2hvcnQ='])('rejects the malformed secret %s without echoing it', (bad) => {
    const err = (() => { try { signingKey(bad); } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(SigningSecretError);
    expect((err as Error).message).not.toContain(bad.slice(6));
  });
});
