// Density (issue #18): 100 kubelet-shaped pods (20 with --quick; BENCH_DENSITY_PODS overrides)
// started with kubelet-like parallelism (10 in flight): the wall time until all run, and the host
// memory with them running — daemon RSS plus the PSS of the per-pod helpers, settled (min over a
// 3 s window: settle.ts) — and what that adds over the idle daemon.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { pool, startPod, stopPod, WORKLOAD_COMMS, workloadReady } from '../pods.js';
import { rssBytes, sumPss } from '../proc.js';
import { removeAllPods, type RuntimeUnderTest } from '../runtimes/runtime.js';
import { addSample, metric, note, MiB, type Metric } from '../stats.js';
import { errorText, type BenchContext } from './context.js';
import { minOver, SETTLE_WINDOW } from './settle.js';

export const DENSITY_IN_FLIGHT = 10;

export function densityPods(quick: boolean, env = process.env.BENCH_DENSITY_PODS): number {
  const n = Number(env);
  return Number.isInteger(n) && n > 0 ? n : quick ? 20 : 100;
}

const memory = (rt: RuntimeUnderTest) => () => {
  const daemon = rssBytes(rt.daemonPid()) / MiB;
  const helpers = sumPss(rt.perPodHelperPids(WORKLOAD_COMMS)) / MiB;
  return { daemon, helpers, total: daemon + helpers };
};

export async function density(ctx: BenchContext): Promise<Metric[]> {
  const pods = densityPods(ctx.quick);
  const time = metric('density_start', `density: ${pods} pods started (${DENSITY_IN_FLIGHT} in flight), wall`, 'ms');
  const total = metric('density_memory_total', `density: daemon RSS + helpers PSS with ${pods} pods (settled: min over 3 s)`, 'MiB', { op: '<=', ratio: 1.0 });
  const daemon = metric('density_daemon_rss', `density: daemon RSS with ${pods} pods (settled)`, 'MiB');
  const added = metric('density_memory', `density: memory added for ${pods} pods (total − idle daemon RSS, both settled)`, 'MiB');
  const all = [time, total, daemon, added];
  for (const rt of ctx.runtimes) {
    try {
      const idle = await minOver(memory(rt), { samples: 4, intervalMs: 300 });
      const t0 = performance.now();
      const started = await pool(Array.from({ length: pods }, (_, i) => i), DENSITY_IN_FLIGHT, () => startPod(rt, { logRoot: ctx.logRoot }));
      addSample(time, rt.name, performance.now() - t0);
      await sleep(1000); // helpers finish their start-up allocations
      const full = await minOver(memory(rt), SETTLE_WINDOW);
      addSample(total, rt.name, full.total);
      addSample(daemon, rt.name, full.daemon);
      addSample(added, rt.name, full.total - idle.total);
      note(total, `${rt.label}: helpers ${full.helpers.toFixed(1)} MiB PSS (${(full.helpers / pods).toFixed(2)} per pod)`);
      // Untimed; 100 pods under load need more than the 10 s 50 pods did (a StopContainer sent before a
      // workload's trap is set waits the whole 30 s grace period).
      await workloadReady(started.map((p) => p.uid), Math.max(10_000, pods * 300));
      await pool(started, DENSITY_IN_FLIGHT, (p) => stopPod(rt, p.podId, p.containerId));
    } catch (e) {
      for (const m of all) note(m, `${rt.label} failed: ${errorText(e)}`);
      ctx.log(`density: ${rt.label} failed: ${errorText(e)}`);
      // Best effort before the next runtime; its failure is already in the notes above.
      await removeAllPods(rt.client).catch(() => 0);
    }
  }
  return all;
}
