/** A manual clock for unit tests: time moves only when the test says so. */
import type { Clock, TimerHandle } from '../../../src/operator/index.js';

export class FakeClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers: Array<{ at: number; seq: number; fn: () => void; cancelled: boolean }> = [];

  now(): number {
    return this.t;
  }

  setTimer(fn: () => void, ms: number): TimerHandle {
    const timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  /** Pending timers (not cancelled). */
  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Move time forward, firing due timers in order and letting promise callbacks run between them. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      const due = this.timers.filter((t) => !t.cancelled && t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (due === undefined) break;
      this.t = due.at;
      due.cancelled = true;
      due.fn();
    }
    this.t = end;
    await flush();
  }
}

/** Let queued promise callbacks run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
}
