import { describe, expect, test } from '@jest/globals';
import { silentLogger } from '../../../src/common/index.js';
import { WorkQueue, type HandlerResult } from '../../../src/operator/index.js';
import { FakeClock, flush } from './fake-clock.js';

/** A handler whose calls the test resolves or rejects by hand. */
function manualHandler() {
  const calls: Array<{ key: string; resolve: (r?: HandlerResult) => void; reject: (e: Error) => void }> = [];
  const handler = (key: string) =>
    new Promise<HandlerResult>((resolve, reject) => calls.push({ key, resolve: (r = {}) => resolve(r), reject }));
  return { calls, handler };
}

function queue(handler: (key: string) => Promise<HandlerResult>, clock = new FakeClock(), concurrency = 2) {
  return { clock, q: new WorkQueue({ handler, clock, logger: silentLogger(), concurrency }) };
}

describe('WorkQueue', () => {
  test('a key added many times while it waits is handled once', async () => {
    const { calls, handler } = manualHandler();
    const { q } = queue(handler, new FakeClock(), 1);
    q.add('busy'); // occupies the only worker, so the adds below wait
    for (const k of ['a', 'b', 'a', 'b', 'a']) q.add(k);
    expect(q.length).toBe(2);
    for (let i = 0; i < 3; i++) {
      await flush();
      calls[i]!.resolve();
    }
    await q.whenIdle();
    expect(calls.map((c) => c.key)).toEqual(['busy', 'a', 'b']);
  });

  test('never runs one key in two workers; a key added while running runs once more afterwards', async () => {
    const { calls, handler } = manualHandler();
    const { q } = queue(handler, new FakeClock(), 4);
    q.add('a');
    await flush();
    q.add('a');
    q.add('a');
    await flush();
    expect(calls.map((c) => c.key)).toEqual(['a']);
    calls[0]!.resolve();
    await flush();
    expect(calls.map((c) => c.key)).toEqual(['a', 'a']);
    calls[1]!.resolve();
    await q.whenIdle();
    expect(calls).toHaveLength(2);
  });

  test('runs at most `concurrency` keys at once', async () => {
    const { calls, handler } = manualHandler();
    const { q } = queue(handler, new FakeClock(), 2);
    for (const k of ['a', 'b', 'c', 'd']) q.add(k);
    await flush();
    expect(q.inFlight).toBe(2);
    expect(calls.map((c) => c.key)).toEqual(['a', 'b']);
    calls[0]!.resolve();
    await flush();
    expect(calls.map((c) => c.key)).toEqual(['a', 'b', 'c']);
    expect(q.inFlight).toBe(2);
  });

  test('failures back off per key: 5 ms doubling, capped at 1000 s', () => {
    const { q } = queue(async () => ({}));
    expect([0, 1, 2, 3, 10].map((n) => q.backoffMs(n))).toEqual([5, 10, 20, 40, 5120]);
    expect(q.backoffMs(18)).toBe(1_000_000);
    expect(q.backoffMs(2000)).toBe(1_000_000);
  });

  test('a failing key is retried after its backoff, and the backoff is forgotten only on success', async () => {
    const clock = new FakeClock();
    const times: number[] = [];
    let fail = 3;
    const { q } = queue(async () => {
      times.push(clock.now());
      if (fail-- > 0) throw new Error('not yet');
      return {};
    }, clock);
    q.add('a');
    await flush();
    expect(q.retries('a')).toBe(1);
    await clock.advance(4);
    expect(times).toEqual([0]);
    await clock.advance(1);
    expect(times).toEqual([0, 5]);
    await clock.advance(10);
    expect(times).toEqual([0, 5, 15]);
    await clock.advance(20);
    expect(times).toEqual([0, 5, 15, 35]);
    expect(q.retries('a')).toBe(0); // the 4th call succeeded
    // A new failure starts again from 5 ms.
    fail = 1;
    q.add('a');
    await flush();
    await clock.advance(5);
    expect(times).toEqual([0, 5, 15, 35, 35, 40]);
  });

  test('backoff is per key: one failing key does not slow another', async () => {
    const clock = new FakeClock();
    const calls: string[] = [];
    const { q } = queue(async (k) => {
      calls.push(k);
      if (k === 'bad') throw new Error('x');
      return {};
    }, clock);
    q.add('bad');
    q.add('bad');
    await flush();
    await clock.advance(5);
    await clock.advance(10);
    expect(q.retries('bad')).toBe(3);
    q.add('good');
    await flush();
    expect(calls.at(-1)).toBe('good');
    expect(q.retries('good')).toBe(0);
  });

  test('requeueAfterMs runs the key again after that long; of several delayed adds the earliest wins', async () => {
    const clock = new FakeClock();
    const times: number[] = [];
    const { q } = queue(async () => {
      times.push(clock.now());
      return times.length === 1 ? { requeueAfterMs: 100 } : {};
    }, clock);
    q.add('a');
    await flush();
    q.addAfter('a', 50);
    q.addAfter('a', 500);
    await clock.advance(49);
    expect(times).toEqual([0]);
    await clock.advance(1);
    expect(times).toEqual([0, 50]);
    await clock.advance(1000);
    // The 100 ms requeue was superseded by the earlier 50 ms add; the 500 ms add lost to it too.
    expect(times).toEqual([0, 50]);
  });

  test('shutDown waits for keys in flight, drops waiting ones and cancels timers', async () => {
    const clock = new FakeClock();
    const { calls, handler } = manualHandler();
    const { q } = queue(handler, clock, 1);
    q.add('a');
    q.add('b');
    q.addAfter('c', 1000);
    await flush();
    let done = false;
    const shut = q.shutDown().then(() => (done = true));
    await flush();
    expect(done).toBe(false);
    expect(clock.pending).toBe(0);
    calls[0]!.resolve();
    await shut;
    expect(calls.map((c) => c.key)).toEqual(['a']);
    q.add('d');
    await flush();
    expect(calls).toHaveLength(1);
  });
});
