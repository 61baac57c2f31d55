// CPU seconds per pod lifecycle (issue #18): the CPU a runtime spends to start and tear down one
// kubelet-shaped pod, daemon and per-pod helpers together, over N sequential lifecycles:
//   daemon: utime+stime+cutime+cstime of the daemon after minus before (cutime/cstime: the children
//           it waited for — runc, CNI plugins, unshare/pinns, `containerd-shim … start`);
//   helpers: what it daemonizes per pod (conmon, the containerd shim and, reaped by them, runc,
//           pause and the workload) is re-parented to the bench (bench/reaper.ts), so each one's
//           final counters are read from its zombie after it exited.
// Divided by N. Kernel work done in kworkers (netns teardown, …) is no process's and not counted.
import { setTimeout as sleep } from 'node:timers/promises';
import { startPod, stopPod, workloadReady } from '../pods.js';
import { clockTicks, readStat } from '../proc-stat.js';
import { OrphanCollector } from '../reaper.js';
import type { RuntimeUnderTest } from '../runtimes/runtime.js';
import { addSample, metric, note, type Metric } from '../stats.js';
import { errorText, order, type BenchContext } from './context.js';

function daemonTicks(rt: RuntimeUnderTest): number {
  const s = readStat(rt.daemonPid());
  if (!s) throw new Error(`${rt.label}: daemon ${rt.daemonPid()} gone`);
  return s.selfTicks + s.childTicks;
}

/** Waits until none of rt's per-pod monitors run any more (a shim exits a little after RemovePodSandbox). */
async function helpersGone(rt: RuntimeUnderTest, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (rt.perPodHelperPids([]).length) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

async function lifecycles(ctx: BenchContext, rt: RuntimeUnderTest, n: number): Promise<void> {
  for (let k = 0; k < n; k++) {
    const t = await startPod(rt, { logRoot: ctx.logRoot });
    await workloadReady(t.uid);
    await stopPod(rt, t.podId, t.containerId);
  }
}

export async function cpuPerPod(ctx: BenchContext): Promise<Metric[]> {
  const n = ctx.quick ? 3 : 10;
  const rounds = ctx.quick ? 1 : 3;
  const total = metric('cpu_per_pod', `CPU time per pod lifecycle, daemon + helpers (${n} sequential pods per sample)`, 'ms', { op: '<=', ratio: 0.7 });
  const helpers = metric('cpu_per_pod_helpers', 'CPU time per pod lifecycle, of which per-pod helpers (shim / conmon trees)', 'ms');
  const all = [total, helpers];
  const tck = clockTicks();
  const reaper = new OrphanCollector(() => ctx.runtimes.map((r) => r.daemonPid()));
  const failed = new Set<string>();
  reaper.enable();
  try {
    for (let i = 0; i < rounds; i++) {
      for (const rt of order(ctx.runtimes, i)) {
        if (failed.has(rt.name)) continue;
        try {
          if (i === 0) await lifecycles(ctx, rt, 1); // warm-up: first-use costs (CNI cache, lazy code) are not per pod
          if (!(await helpersGone(rt, 10_000))) note(total, `${rt.label}: per-pod helpers still running before the window`);
          // Drops the warm-up pod's exited helpers; later rounds should find none (end() reaped them).
          const stale = reaper.begin();
          if (stale && i > 0) note(total, `${rt.label}: ${stale} exited helper(s) from before the window dropped (not counted)`);
          const d0 = daemonTicks(rt);
          await lifecycles(ctx, rt, n);
          const gone = await helpersGone(rt, 10_000);
          const d1 = daemonTicks(rt);
          const orphans = reaper.end();
          const ms = (ticks: number) => (ticks / tck) * 1000 / n;
          addSample(total, rt.name, ms(d1 - d0 + orphans.ticks));
          addSample(helpers, rt.name, ms(orphans.ticks));
          if (i === 0) {
            const what = Object.entries(orphans.comms).map(([c, k]) => `${k} ${c}`).join(', ') || 'none';
            note(helpers, `${rt.label}: helpers over ${n} pods: ${what}${orphans.running ? ` (${orphans.running} still running${gone ? '' : ', monitors did not exit within 10 s'})` : ''}`);
          }
        } catch (e) {
          failed.add(rt.name);
          for (const m of all) note(m, `${rt.label} failed: ${errorText(e)}`);
          ctx.log(`cpu: ${rt.label} failed: ${errorText(e)}`);
        }
      }
    }
  } finally {
    reaper.disable();
  }
  return all;
}
