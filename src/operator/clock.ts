/** Time as an argument, so the work queue and the leader elector are tested with a fake clock. */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  now(): number;
  /** Run `fn` after `ms`; the handle cancels it. Timers never keep the process alive on their own account. */
  setTimer(fn: () => void, ms: number): TimerHandle;
}

export function systemClock(): Clock {
  return {
    now: () => Date.now(),
    setTimer(fn, ms) {
      const t = setTimeout(fn, Math.max(0, ms));
      return { cancel: () => clearTimeout(t) };
    },
  };
}

/** Resolve after `ms` on `clock`, or at once when `signal` aborts. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      timer.cancel();
      resolve();
    };
    const timer = clock.setTimer(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
