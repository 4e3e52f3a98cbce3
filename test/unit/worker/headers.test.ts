import { describe, expect, test } from '@jest/globals';
import { boundBytes, HEADER, MAX_REASON_BYTES, readBookkeeping, republishEnvelope, republishHeaders } from '../../../src/worker/index.js';

const NOW = Date.parse('2024-05-01T12:00:00.000Z');
const newId = () => 'generated-id';

describe('readBookkeeping', () => {
  test('first sight: id from messageId, attempt 1, first-seen now', () => {
    expect(readBookkeeping({ messageId: 'm-1' }, NOW, newId)).toEqual({ id: 'm-1', attempt: 1, firstSeen: '2024-05-01T12:00:00.000Z' });
  });
  test('first sight without messageId assigns a new id', () => {
    expect(readBookkeeping({ headers: {} }, NOW, newId).id).toBe('generated-id');
  });
  test('a republished message keeps its id and first-seen and counts up', () => {
    const h = { [HEADER.id]: 'm-1', [HEADER.attempt]: 2, [HEADER.firstSeen]: '2024-01-01T00:00:00.000Z' };
    expect(readBookkeeping({ messageId: 'other', headers: h }, NOW, newId)).toEqual({ id: 'm-1', attempt: 3, firstSeen: '2024-01-01T00:00:00.000Z' });
  });
  test('tolerates header values as strings or garbage', () => {
    expect(readBookkeeping({ headers: { [HEADER.attempt]: '4' } }, NOW, newId).attempt).toBe(5);
    expect(readBookkeeping({ headers: { [HEADER.attempt]: 'x' } }, NOW, newId).attempt).toBe(1);
    expect(readBookkeeping({ headers: { [HEADER.attempt]: -3 } }, NOW, newId).attempt).toBe(1);
  });
  test('never reads x-death', () => {
    const h = { 'x-death': [{ count: 7, queue: 'q', reason: 'expired' }] };
    expect(readBookkeeping({ messageId: 'm', headers: h }, NOW, newId).attempt).toBe(1);
  });
});

describe('republishHeaders', () => {
  const book = { id: 'm-1', attempt: 2, firstSeen: '2024-01-01T00:00:00.000Z' };
  test('keeps the producer headers, drops broker dead-letter headers, adds ours', () => {
    const out = republishHeaders({ 'tenant': 'acme', 'x-death': [], 'x-first-death-queue': 'q', 'x-last-death-reason': 'expired', 'x-custom': 1 }, book, 'HTTP 500');
    expect(out).toEqual({ tenant: 'acme', 'x-custom': 1, [HEADER.id]: 'm-1', [HEADER.attempt]: 2, [HEADER.firstSeen]: book.firstSeen, [HEADER.lastError]: 'HTTP 500' });
  });
  test('adds the parked reason only when parking', () => {
    expect(republishHeaders({}, book, 'e', 'gone')[HEADER.parkedReason]).toBe('gone');
    expect(republishHeaders({ [HEADER.parkedReason]: 'old' }, book, 'e')).not.toHaveProperty(HEADER.parkedReason);
  });
  test('bounds the last error to about 1 KiB of UTF-8 without splitting characters', () => {
    const out = republishHeaders({}, book, '错'.repeat(2000))[HEADER.lastError] as string;
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(MAX_REASON_BYTES);
    expect(out.endsWith('…')).toBe(true);
    expect(out).not.toContain('\uFFFD');
    expect(boundBytes('short')).toBe('short');
  });
});

describe('republishEnvelope', () => {
  test('keeps the producer properties except expiration and userId; persistent and mandatory to the default exchange', () => {
    const msg = { messageId: 'm', contentType: 'application/json', contentEncoding: 'utf-8', correlationId: 'c', replyTo: 'r', timestamp: 1, type: 't', appId: 'shop', priority: 3, expiration: '1000', userId: 'guest', headers: {} };
    expect(republishEnvelope(msg, 'ladder.ns.p.delay.3s', { a: 1 })).toEqual({
      exchange: '',
      routingKey: 'ladder.ns.p.delay.3s',
      mandatory: true,
      durable: true,
      headers: { a: 1 },
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      correlationId: 'c',
      replyTo: 'r',
      messageId: 'm',
      timestamp: 1,
      type: 't',
      appId: 'shop',
      priority: 3,
    });
  });
});
