import { describe, expect, test } from '@jest/globals';
import { describeParked, REQUEUED_AT_HEADER, requeueEnvelope, requeueHeaders } from '../../../src/worker/parked.js';

const NOW = Date.parse('2024-06-01T12:00:00.000Z');
const noId = () => 'generated-id';

describe('describeParked', () => {
  test('reads the ladder headers a worker writes when parking', () => {
    const e = describeParked(
      { headers: { 'ladder-id': 'n1', 'ladder-attempt': 3, 'ladder-first-seen': '2024-05-01T00:00:00Z', 'ladder-parked-reason': 'HTTP 410', 'ladder-last-error': 'HTTP 410: gone' } },
      Buffer.from('http://m.example/notify'),
    );
    expect(e).toEqual({ id: 'n1', attempts: 3, firstSeen: '2024-05-01T00:00:00Z', reason: 'HTTP 410', lastError: 'HTTP 410: gone', bytes: 23, preview: 'http://m.example/notify' });
  });

  test.each([
    ['a Buffer header', { 'ladder-id': Buffer.from('b1'), 'ladder-attempt': Buffer.from('2') }, 'b1', 2],
    ['no ladder-id: the messageId', { 'ladder-attempt': 1 }, 'mid', 1],
    ['a garbage attempt count', { 'ladder-id': 'x', 'ladder-attempt': 'many' }, 'x', 0],
  ])('%s', (_name, headers, id, attempts) => {
    const e = describeParked({ messageId: 'mid', headers }, Buffer.alloc(0));
    expect(e.id).toBe(id);
    expect(e.attempts).toBe(attempts);
  });

  test('cuts the preview to 80 characters without splitting a character', () => {
    const body = Buffer.from('支'.repeat(100));
    const e = describeParked({}, body, 80);
    expect(e.preview).toBe(`${'支'.repeat(80)}…`);
    expect(e.bytes).toBe(300);
    expect(e.id).toBeUndefined();
  });
});

describe('requeueHeaders', () => {
  test('resets the attempt, drops the parked reason and broker headers, keeps id, first seen and the producer headers', () => {
    const h = requeueHeaders(
      {
        headers: {
          'ladder-id': 'n1',
          'ladder-attempt': 7,
          'ladder-first-seen': '2024-05-01T00:00:00Z',
          'ladder-last-error': 'HTTP 500',
          'ladder-parked-reason': 'ladder exhausted',
          'x-death': [{ count: 1 }],
          trace: 't1',
        },
      },
      NOW,
      noId,
    );
    expect(h).toEqual({
      'ladder-id': 'n1',
      'ladder-attempt': 0,
      'ladder-first-seen': '2024-05-01T00:00:00Z',
      'ladder-last-error': 'HTTP 500',
      [REQUEUED_AT_HEADER]: '2024-06-01T12:00:00.000Z',
      trace: 't1',
    });
  });

  test('a message without bookkeeping gets its messageId (or a new id) and a first-seen of now, and no empty last error', () => {
    expect(requeueHeaders({ messageId: 'm9' }, NOW, noId)).toEqual({ 'ladder-id': 'm9', 'ladder-attempt': 0, 'ladder-first-seen': '2024-06-01T12:00:00.000Z', [REQUEUED_AT_HEADER]: '2024-06-01T12:00:00.000Z' });
    expect(requeueHeaders({}, NOW, noId)['ladder-id']).toBe('generated-id');
  });
});

describe('requeueEnvelope', () => {
  test('targets the work queue through the default exchange, mandatory and persistent, keeping the properties', () => {
    const env = requeueEnvelope({ messageId: 'm1', contentType: 'text/plain', correlationId: 'c', headers: { 'ladder-id': 'm1' } }, 'ladder.ns.p.work', NOW, noId);
    expect(env).toMatchObject({ exchange: '', routingKey: 'ladder.ns.p.work', mandatory: true, durable: true, messageId: 'm1', contentType: 'text/plain', correlationId: 'c' });
    expect(env.headers['ladder-attempt']).toBe(0);
  });
});
