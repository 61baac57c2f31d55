// Micro-VM pods (Bulkhead's VM RuntimeClass handlers): pod ready time without and with a warm pool,
// per-pod host memory and the accelerator. Reported as "microvm: not available" when the daemon has
// no working VM handler (builds without the VM runtime, or no usable accelerator/guest image).
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BUSYBOX, startPod, stopPod } from '../pods.js';
import { descendants, listProcesses, sumPss, topMappings } from '../proc.js';
import { BulkheadRuntime, snapshotVm, VM_HANDLERS } from '../runtimes/bulkhead.js';
import { removeAllPods, type RuntimeUnderTest } from '../runtimes/runtime.js';
import { addSample, metric, note, MiB, type Metric } from '../stats.js';
import { errorText, type BenchContext } from './context.js';

/** KVM only with hardware virtualisation (this machine's /dev/kvm is PVM, which QEMU cannot use: TCG). */
export function hostAccelerator(): 'KVM' | 'TCG' {
  const cpu = readFileSync('/proc/cpuinfo', 'utf8');
  return existsSync('/dev/kvm') && /\b(vmx|svm)\b/.test(cpu) ? 'KVM' : 'TCG';
}

interface VmHandlerInfo {
  accelerator?: string;
  acceleratorReason?: string;
  poolSize?: number;
  poolReady?: number;
  unavailable?: string;
}

/** The daemon's own view of its VM handlers (Status verbose info "vmHandlers"), if it reports one. */
async function vmInfo(rt: RuntimeUnderTest): Promise<Record<string, VmHandlerInfo>> {
  try {
    const st = await rt.client.runtime.Status({ verbose: true });
    return JSON.parse(st.info?.vmHandlers ?? '{}') as Record<string, VmHandlerInfo>;
  } catch {
    return {};
  }
}

async function waitPoolReady(rt: RuntimeUnderTest, handler: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (((await vmInfo(rt))[handler]?.poolReady ?? 0) > 0) return true;
    await sleep(500);
  }
  return false;
}

/** Runs on its own Bulkhead daemon with the VM handlers, started after the other scenarios. */
export async function microVm(ctx: BenchContext): Promise<Metric[]> {
  if (!ctx.runtimes.some((r) => r.name === 'bulkhead')) return [];
  const rt = new BulkheadRuntime(ctx.env, { vmHandlers: true, instance: 'bulkhead-vm', logLevel: 'info' });
  try {
    await rt.start();
    await rt.client.image.PullImage({ image: { image: BUSYBOX } }, 300_000);
    return await measure(ctx, rt);
  } finally {
    // Kept for diagnosis (VM boots fail for many reasons): bench/results/bulkhead-vm.log, git-ignored.
    const results = join(ctx.env.repo, 'bench/results');
    mkdirSync(results, { recursive: true });
    if (existsSync(rt.logFile)) copyFileSync(rt.logFile, join(results, 'bulkhead-vm.log'));
    await rt.stop();
  }
}

async function measure(ctx: BenchContext, rt: RuntimeUnderTest): Promise<Metric[]> {
  const info = await vmInfo(rt);
  const cold = info[VM_HANDLERS.cold];
  const accel = cold?.accelerator ? cold.accelerator.toUpperCase() : hostAccelerator();
  const ready = metric('microvm_pod_ready', `microvm pod ready, no warm pool (${accel})`, 'ms');
  const warm = metric('microvm_pod_ready_warm', `microvm pod ready, warm pool (${accel})`, 'ms');
  const mem = metric('microvm_pod_memory', `microvm per-pod host memory (PSS of QEMU + helpers, ${accel})`, 'MiB');
  if (cold?.acceleratorReason) note(ready, `accelerator: ${cold.accelerator} (${cold.acceleratorReason})`);
  const iterations = ctx.quick ? 1 : 3;
  const daemon = rt.daemonPid();
  try {
    if (!cold) throw new Error(`the daemon reports no "${VM_HANDLERS.cold}" handler`);
    if (cold.unavailable) throw new Error(cold.unavailable);
    // The warm pool boots its VM at daemon start: let it finish, or it competes with the cold boots.
    if (info[VM_HANDLERS.warm] && !info[VM_HANDLERS.warm]!.unavailable) await waitPoolReady(rt, VM_HANDLERS.warm, 120_000);
    for (let i = 0; i < iterations; i++) {
      const before = new Set(descendants([daemon]).map((p) => p.pid));
      const t = await startPod(rt, { logRoot: ctx.logRoot, handler: VM_HANDLERS.cold });
      addSample(ready, rt.name, t.wholeMs);
      await sleep(500);
      const added = descendants([daemon], listProcesses()).filter((p) => !before.has(p.pid));
      addSample(mem, rt.name, sumPss(added.map((p) => p.pid)) / MiB);
      if (i === 0) {
        note(mem, `processes added per VM pod: ${added.map((p) => `${p.comm} ${(sumPss([p.pid]) / MiB).toFixed(0)} MiB`).join(', ')}`);
        const qemu = added.find((p) => p.comm.startsWith('qemu'));
        if (qemu) {
          const top = topMappings(qemu.pid, 3).map((m) => `${m.name} ${(m.rssKb / 1024).toFixed(0)} MiB rss/${(m.pssKb / 1024).toFixed(0)} pss`);
          note(mem, `qemu's largest mappings: ${top.join('; ')}`);
        }
      }
      await stopPod(rt, t.podId);
    }
  } catch (e) {
    const reason = `microvm: not available (${errorText(e)})`;
    ready.label = 'microvm: not available';
    note(ready, reason);
    ctx.log(reason);
    await removeAllPods(rt.client).catch(() => 0);
    return [ready];
  }
  try {
    const w = (await vmInfo(rt))[VM_HANDLERS.warm];
    if (!w || w.unavailable) throw new Error(w?.unavailable ?? `no "${VM_HANDLERS.warm}" handler`);
    for (let i = 0; i < iterations; i++) {
      if (!(await waitPoolReady(rt, VM_HANDLERS.warm, 120_000))) throw new Error('warm pool never became ready');
      const t = await startPod(rt, { logRoot: ctx.logRoot, handler: VM_HANDLERS.warm });
      addSample(warm, rt.name, t.wholeMs);
      await stopPod(rt, t.podId);
    }
  } catch (e) {
    note(warm, `warm pool: ${errorText(e)}`);
    await removeAllPods(rt.client).catch(() => 0);
  }
  const snapshot = await measureSnapshot(rt, ctx, accel, iterations);
  const burst = await measureBurst(rt, ctx, accel, daemon);
  note(ready, 'VM pod ready = kubelet SyncPod calls (RunPodSandbox, PodSandboxStatus, ImageStatus, CreateContainer, StartContainer, ContainerStatus) for the busybox workload');
  return [ready, warm, snapshot, mem, ...burst];
}

/** Pods restored from the handler's template; the first pod (which makes the template) is noted apart. */
async function measureSnapshot(rt: RuntimeUnderTest, ctx: BenchContext, accel: string, iterations: number): Promise<Metric> {
  const m = metric('microvm_pod_ready_snapshot', `microvm pod ready, snapshot start (${accel})`, 'ms');
  const snap = snapshotVm();
  try {
    if (!snap.support.ok) throw new Error(snap.support.reason);
    const h = (await vmInfo(rt))[VM_HANDLERS.snapshot];
    if (!h || h.unavailable) throw new Error(h?.unavailable ?? `no "${VM_HANDLERS.snapshot}" handler`);
    const first = await startPod(rt, { logRoot: ctx.logRoot, handler: VM_HANDLERS.snapshot, callTimeoutMs: 300_000 });
    note(m, `first pod, template boot + save + restore: ${first.wholeMs.toFixed(0)} ms (QEMU ${snap.support.qemuVersion}, ${snap.qemu})`);
    await stopPod(rt, first.podId);
    for (let i = 0; i < iterations; i++) {
      const t = await startPod(rt, { logRoot: ctx.logRoot, handler: VM_HANDLERS.snapshot });
      addSample(m, rt.name, t.wholeMs);
      await stopPod(rt, t.podId);
    }
  } catch (e) {
    m.label = 'microvm pod ready, snapshot start: not available';
    note(m, `snapshot start: ${errorText(e)}`);
    await removeAllPods(rt.client).catch(() => 0);
  }
  return m;
}

/**
 * N pods started at once (10; --quick 3) on the snapshot handler where it works, else the cold
 * one: wall time until every container runs, and the peak host memory of the daemon and all it
 * started (QEMU, virtiofsd, ...), sampled every 250 ms.
 */
async function measureBurst(rt: RuntimeUnderTest, ctx: BenchContext, accel: string, daemon: number): Promise<Metric[]> {
  const n = ctx.quick ? 3 : 10;
  const handler = snapshotVm().support.ok ? VM_HANDLERS.snapshot : VM_HANDLERS.cold;
  const start = handler === VM_HANDLERS.snapshot ? 'snapshot start' : 'booted';
  const wall = metric('microvm_burst_wall', `${n} microvm pods at once, all running (${accel}, ${start})`, 'ms');
  const peak = metric('microvm_burst_memory', `${n} microvm pods at once, peak host memory (daemon + VMMs, ${accel})`, 'MiB');
  let highest = 0;
  const sample = (): void => {
    highest = Math.max(highest, sumPss([daemon, ...descendants([daemon]).map((p) => p.pid)]));
  };
  const timer = setInterval(sample, 250);
  const t0 = performance.now();
  try {
    const pods = await Promise.all(Array.from({ length: n }, () => startPod(rt, { logRoot: ctx.logRoot, handler, callTimeoutMs: 600_000 })));
    addSample(wall, rt.name, performance.now() - t0);
    sample();
    addSample(peak, rt.name, highest / MiB);
    note(wall, `per pod: ${pods.map((p) => (p.wholeMs / 1000).toFixed(1)).join(', ')} s`);
    for (const p of pods) await stopPod(rt, p.podId);
  } catch (e) {
    wall.label = `${n} microvm pods at once: failed`;
    note(wall, errorText(e));
    await removeAllPods(rt.client).catch(() => 0);
  } finally {
    clearInterval(timer);
  }
  return [wall, peak];
}
