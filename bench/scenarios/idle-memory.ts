// Daemon RSS with no pods (after images are pulled and a warm-up pod has come and gone).
import { setTimeout as sleep } from 'node:timers/promises';
import { rssBytes } from '../proc.js';
import { addSample, metric, MiB, type Metric } from '../stats.js';
import type { BenchContext } from './context.js';

export async function idleMemory(ctx: BenchContext): Promise<Metric[]> {
  const m = metric('daemon_rss_idle', 'daemon RSS idle (no pods)', 'MiB', { op: '<=', ratio: 1.2 });
  for (let i = 0; i < 3; i++) {
    for (const rt of ctx.runtimes) addSample(m, rt.name, rssBytes(rt.daemonPid()) / MiB);
    await sleep(300);
  }
  return [m];
}
