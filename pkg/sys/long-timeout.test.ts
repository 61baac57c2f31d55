import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { MAX_TIMER_MS, secondsToMs, setLongTimeout, sleep } from './long-timeout.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('setLongTimeout', () => {
  test('plain setTimeout fires a 2^31 ms delay after 1 ms: the overflow this helper exists for', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const fn = vi.fn();
    setTimeout(fn, 2 ** 31);
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledTimes(1);
    warn.mockRestore();
  });

  test('a delay beyond 2^31-1 ms fires at the delay, not before', () => {
    const fn = vi.fn();
    const ms = 2 ** 31 + 5_000;
    setLongTimeout(fn, ms);
    vi.advanceTimersByTime(1);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(MAX_TIMER_MS);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(ms - MAX_TIMER_MS - 2);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  test('an int64-max CRI timeout in seconds is still pending after 3 chained timers', () => {
    const fn = vi.fn();
    setLongTimeout(fn, secondsToMs(Number('9223372036854775807')));
    vi.advanceTimersByTime(3 * MAX_TIMER_MS);
    expect(fn).not.toHaveBeenCalled();
  });

  test('short, zero, negative and NaN delays fire on time; Infinity never', () => {
    const fns = [vi.fn(), vi.fn(), vi.fn(), vi.fn(), vi.fn()];
    setLongTimeout(fns[0]!, 10);
    setLongTimeout(fns[1]!, 0);
    setLongTimeout(fns[2]!, -5);
    setLongTimeout(fns[3]!, NaN);
    setLongTimeout(fns[4]!, Infinity);
    vi.advanceTimersByTime(9);
    expect(fns.map((f) => f.mock.calls.length)).toEqual([0, 1, 1, 1, 0]);
    vi.advanceTimersByTime(1);
    expect(fns[0]).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(10 * MAX_TIMER_MS);
    expect(fns[4]).not.toHaveBeenCalled();
  });

  test('cancel stops the chain, also between two chained timers', () => {
    const fn = vi.fn();
    const t = setLongTimeout(fn, 2 * MAX_TIMER_MS);
    vi.advanceTimersByTime(MAX_TIMER_MS + 10);
    t.cancel();
    vi.advanceTimersByTime(2 * MAX_TIMER_MS);
    expect(fn).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('secondsToMs', () => {
  test('CRI seconds → ms; negative and NaN are no wait', () => {
    expect(secondsToMs(2)).toBe(2000);
    expect(secondsToMs(0)).toBe(0);
    expect(secondsToMs(-1)).toBe(0);
    expect(secondsToMs(NaN)).toBe(0);
  });
});

describe('sleep', () => {
  test('resolves after a long delay, or at once when aborted (clearing its timer)', async () => {
    let done = false;
    void sleep(2 ** 31 + 1).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(MAX_TIMER_MS);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(2);
    expect(done).toBe(true);

    const ac = new AbortController();
    let early = false;
    void sleep(10 * MAX_TIMER_MS, ac.signal).then(() => (early = true));
    ac.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(early).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });
});
