// Sequential pod lifecycle as kubelet drives it (bench/pods.ts): sandbox ready, container
// create+start, whole pod, stop+remove. Targets are issue #18's, against containerd 2.x.
import { startPod, stopPod, workloadReady } from '../pods.js';
import { addSample, metric, note, type Metric } from '../stats.js';
import { errorText, order, type BenchContext } from './context.js';

export async function podLifecycle(ctx: BenchContext): Promise<Metric[]> {
  const warmup = ctx.quick ? 1 : 2;
  const iterations = ctx.quick ? 3 : 10;
  const sandbox = metric('pod_sandbox_ready', 'pod sandbox ready (RunPodSandbox+PodSandboxStatus)', 'ms', { op: '<=', ratio: 0.35 });
  const container = metric('container_create_start', 'container (ImageStatus+Create+Start+Status)', 'ms');
  const whole = metric('whole_pod', 'whole pod (kubelet SyncPod: sandbox + 1 container running)', 'ms', { op: '<=', ratio: 0.5 });
  const teardown = metric('pod_stop_remove', 'pod teardown (StopContainer+StopPodSandbox+Remove both)', 'ms');
  const failed = new Set<string>();

  for (let i = 0; i < warmup + iterations; i++) {
    for (const rt of order(ctx.runtimes, i)) {
      if (failed.has(rt.name)) continue;
      try {
        const t = await startPod(rt, { logRoot: ctx.logRoot });
        await workloadReady(t.uid);
        const stopMs = await stopPod(rt, t.podId, t.containerId);
        if (i < warmup) continue;
        addSample(sandbox, rt.name, t.sandboxMs);
        addSample(container, rt.name, t.containerMs);
        addSample(whole, rt.name, t.wholeMs);
        addSample(teardown, rt.name, stopMs);
      } catch (e) {
        failed.add(rt.name);
        for (const m of [sandbox, container, whole, teardown]) note(m, `${rt.label} failed: ${errorText(e)}`);
        ctx.log(`pod lifecycle: ${rt.label} failed: ${errorText(e)}`);
      }
    }
  }
  return [sandbox, container, whole, teardown];
}
