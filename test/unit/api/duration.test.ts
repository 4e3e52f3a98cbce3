import { describe, expect, test } from '@jest/globals';
import { formatDuration, parseDuration } from '../../../src/api/index.js';

describe('parseDuration', () => {
  test.each([
    ['200ms', 200],
    ['3s', 3_000],
    ['1m', 60_000],
    ['2h', 7_200_000],
    ['1h30m', 5_400_000],
    ['1m30s500ms', 90_500],
    ['90s', 90_000],
    ['0s', 0],
  ])('reads %s as %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  test.each(['', '5', '5 minutes', '1d', '1.5s', '-1s', 's', '1S', ' 1s', '1s '])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  test.each([
    [200, '200ms'],
    [3_000, '3s'],
    [60_000, '1m'],
    [90_000, '1m30s'],
    [5_400_000, '1h30m'],
    [3_600_001, '1h1ms'],
    [54_000_000, '15h'],
  ])('writes %d ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  test('gives one canonical name to every spelling of a delay', () => {
    for (const text of ['60s', '1m', '60000ms', '0h1m']) expect(formatDuration(parseDuration(text)!)).toBe('1m');
  });

  test.each([0, -1, 1.5, Number.NaN])('refuses %d', (ms) => {
    expect(() => formatDuration(ms)).toThrow(RangeError);
  });
});
