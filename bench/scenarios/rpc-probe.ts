// A kubelet keeps calling the runtime while it pulls and starts pods (PLEG relists, status calls):
// how long does a trivial RPC wait meanwhile? One `Version` at a time, a pause between probes,
// until the work settles; shared by the pull and the 20-pod burst scenarios.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RuntimeUnderTest } from '../runtimes/runtime.js';
import { addSample, type Metric } from '../stats.js';

/**
 * Probes rt with Version every intervalMs (after the previous answer) while `work` runs, adding
 * each round trip to m; returns work's result once both are done. A probe still in flight when
 * the work ends is not counted (it measures the idle daemon by then). Time the work inside it
 * (timed()): the last probe's answer may come after the work ended.
 */
export async function probeWhile<T>(rt: RuntimeUnderTest, m: Metric, work: Promise<T>, intervalMs: number): Promise<T> {
  let done = false;
  // Only the flag here: work's own rejection is what the caller awaits below.
  const settled = work.then(
    () => (done = true),
    () => (done = true),
  );
  const probe = (async () => {
    while (!done) {
      const p0 = performance.now();
      // A failed probe is not a latency; the scenario's own calls report the daemon's errors.
      await rt.client.runtime.Version({ version: 'v1' }).catch(() => undefined);
      if (!done) addSample(m, rt.name, performance.now() - p0);
      await Promise.race([sleep(intervalMs), settled]);
    }
  })();
  try {
    return await work;
  } finally {
    await probe;
  }
}

/** fn's result and its wall time, measured around fn alone. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}
