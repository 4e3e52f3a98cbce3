import { describe, expect, test } from '@jest/globals';
import { brokerAddress, scrub } from '../../../src/operator/index.js';

describe('messages about a broker never carry its URI or password', () => {
  test.each([
    ['amqp://guest:guest@127.0.0.1:5672', '127.0.0.1:5672'],
    ['amqp://u:p@rabbit.svc/', 'rabbit.svc:5672'],
    ['amqps://u:p@rabbit.svc:5671/prod', 'rabbit.svc:5671/prod'],
    ['not a uri', 'an unparsable URI'],
  ])('brokerAddress(%s) = %s', (url, address) => {
    expect(brokerAddress(url)).toBe(address);
  });

  test('scrub replaces the URI, any other URI, and the bare password (also URL-encoded)', () => {
    const url = 'amqp://app:p%40ss-9x@10.0.0.5:5672/v';
    const text = `connect ${url} failed; other amqp://x:y@h:1 too; password p@ss-9x; raw p%40ss-9x`;
    const out = scrub(text, url);
    expect(out).toBe('connect 10.0.0.5:5672/v failed; other h:1 too; password ***; raw ***');
  });
});
