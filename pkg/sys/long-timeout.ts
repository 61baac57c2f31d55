// Timers for CRI deadlines. CRI timeouts are int64 seconds, but Node keeps a timer's delay in a
// signed 32-bit millisecond field: beyond 2^31-1 ms (~24.8 days) setTimeout warns and fires after
// 1 ms, so a huge ExecSync or StopContainer timeout used to end the wait at once. Every CRI
// deadline goes through these helpers instead of setTimeout.

/** The longest delay one Node timer holds (ms). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface LongTimeout {
  cancel(): void;
}

/** A CRI timeout in seconds as milliseconds: negative or NaN means no wait (0). */
export function secondsToMs(sec: number): number {
  return Number.isNaN(sec) || sec <= 0 ? 0 : sec * 1000;
}

/**
 * setTimeout for any delay: chains timers of at most MAX_TIMER_MS. Negative and NaN delays fire on
 * the next turn (as setTimeout's 0); Infinity never fires.
 */
export function setLongTimeout(fn: () => void, ms: number, opts: { unref?: boolean } = {}): LongTimeout {
  let remaining = Number.isNaN(ms) ? 0 : Math.max(0, ms);
  let timer: NodeJS.Timeout | undefined;
  let cancelled = false;
  const arm = (): void => {
    if (remaining === Infinity) return;
    const step = Math.min(remaining, MAX_TIMER_MS);
    timer = setTimeout(() => {
      remaining -= step;
      if (cancelled) return;
      if (remaining > 0) arm();
      else fn();
    }, step);
    if (opts.unref) timer.unref();
  };
  arm();
  return {
    cancel() {
      cancelled = true;
      clearTimeout(timer);
    },
  };
}

/** Resolves after ms, or as soon as signal aborts (the timer is cleared then). */
export function sleep(ms: number, signal?: AbortSignal, opts: { unref?: boolean } = {}): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setLongTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms, opts);
    const onAbort = (): void => {
      t.cancel();
      resolve();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
