// Memory of Go daemons moves between samples (their GC returns pages in the background: CRI-O's RSS
// fell between two samples of the same idle state in the 50-pod density run), so a single sample
// is partly luck. Settled here = the minimum of several samples over a short window: the floor the
// process returns to, which is what stays resident for the pods, the same rule for every runtime.
import { setTimeout as sleep } from 'node:timers/promises';

export interface Window {
  samples: number;
  intervalMs: number;
}

/** Density's window: 7 samples 500 ms apart (3 s). */
export const SETTLE_WINDOW: Window = { samples: 7, intervalMs: 500 };

/** Calls read() `samples` times, intervalMs apart, and returns the element-wise minimum of the results. */
export async function minOver<K extends string>(read: () => Record<K, number>, w: Window): Promise<Record<K, number>> {
  let min: Record<K, number> | undefined;
  for (let i = 0; i < w.samples; i++) {
    if (i) await sleep(w.intervalMs);
    const got = read();
    min = min ? elementMin(min, got) : { ...got };
  }
  if (!min) throw new Error('minOver: no samples');
  return min;
}

export function elementMin<K extends string>(a: Record<K, number>, b: Record<K, number>): Record<K, number> {
  const out = { ...a };
  for (const k of Object.keys(b) as K[]) out[k] = Math.min(a[k] ?? Infinity, b[k]);
  return out;
}
