// Density: 50 pods started with kubelet-like parallelism (10 in flight), the time it takes and
// the host memory the runtime adds for them (daemon RSS growth + PSS of its per-pod helpers).
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { pool, startPod, stopPod, WORKLOAD_COMMS, workloadReady } from '../pods.js';
import { rssBytes, sumPss } from '../proc.js';
import { removeAllPods } from '../runtimes/runtime.js';
import { addSample, metric, note, MiB, type Metric } from '../stats.js';
import { errorText, type BenchContext } from './context.js';

export async function density(ctx: BenchContext): Promise<Metric[]> {
  const pods = ctx.quick ? 20 : 50;
  const time = metric('density_start', `density: ${pods} pods started (10 in flight)`, 'ms');
  const mem = metric('density_memory', `density: memory added for ${pods} pods (daemon growth + helpers PSS)`, 'MiB');
  for (const rt of ctx.runtimes) {
    try {
      const rss0 = rssBytes(rt.daemonPid());
      const t0 = performance.now();
      const started = await pool(Array.from({ length: pods }, (_, i) => i), 10, () => startPod(rt, { logRoot: ctx.logRoot }));
      addSample(time, rt.name, performance.now() - t0);
      await sleep(1000);
      const added = rssBytes(rt.daemonPid()) - rss0 + sumPss(rt.perPodHelperPids(WORKLOAD_COMMS));
      addSample(mem, rt.name, added / MiB);
      await workloadReady(started.map((p) => p.uid), 10_000);
      await pool(started, 10, (p) => stopPod(rt, p.podId, p.containerId));
    } catch (e) {
      for (const m of [time, mem]) note(m, `${rt.label} failed: ${errorText(e)}`);
      ctx.log(`density: ${rt.label} failed: ${errorText(e)}`);
      await removeAllPods(rt.client).catch(() => 0);
    }
  }
  return [time, mem];
}
