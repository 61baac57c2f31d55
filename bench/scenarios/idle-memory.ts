// Daemon RSS with no pods, settled: after images are pulled and a warm-up pod has come and gone,
// each runtime gets IDLE_AFTER_MS to finish background work, then the minimum of the settle
// window's samples counts (settle.ts; the same rule as density). Bulkhead keeps up to 4 idle layer
// worker threads for 5 s after a pull (~53 MiB; pkg/image/layer-worker-pool.ts): sampled at once,
// as before 2026-12-05, "idle" read 98 MiB where the settled daemon holds 64.
import { setTimeout as sleep } from 'node:timers/promises';
import { rssBytes } from '../proc.js';
import { addSample, metric, MiB, type Metric } from '../stats.js';
import type { BenchContext } from './context.js';
import { minOver, SETTLE_WINDOW } from './settle.js';

/** Longer than any runtime's idle clean-up after a pull that we know of (Bulkhead's pool: 5 s). */
const IDLE_AFTER_MS = 6_000;

export async function idleMemory(ctx: BenchContext): Promise<Metric[]> {
  const m = metric('daemon_rss_idle', 'daemon RSS idle (no pods, settled)', 'MiB', { op: '<=', ratio: 1.2 });
  await sleep(IDLE_AFTER_MS);
  const settled = await minOver(() => Object.fromEntries(ctx.runtimes.map((rt) => [rt.name, rssBytes(rt.daemonPid())])), SETTLE_WINDOW);
  for (const rt of ctx.runtimes) addSample(m, rt.name, settled[rt.name]! / MiB);
  return [m];
}
