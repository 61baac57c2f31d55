// Diagnostic: the same pods driven by crictl, one process per call, as issue #18's loop measured
// them — next to the in-process figures, so the difference between the two is itself measured:
// crictl's start-up (`crictl version`), and a pod config without kubelet's namespace options
// (NamespaceMode 0 is POD: a shared PID namespace, which needs an infra process).
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { containerConfig, podConfig, startPod, stopPod, type PodCtx, workloadReady } from '../pods.js';
import type { RuntimeUnderTest } from '../runtimes/runtime.js';
import { addSample, metric, note, type Metric } from '../stats.js';
import { errorText, order, type BenchContext } from './context.js';

const run = promisify(execFile);
const CRICTL_CANDIDATES = [process.env.CRICTL ?? '', '/usr/local/bin/crictl', '/var/cache/bulkhead-tools/v1.36.0/crictl'];

/** crictl parses configs with Go's encoding/json: enums and int64s as numbers, not proto3-JSON strings. */
const NS_MODE: Record<string, number> = { POD: 0, CONTAINER: 1, NODE: 2, TARGET: 3 };
export function forCrictl(v: unknown, key = ''): unknown {
  if (Buffer.isBuffer(v)) return v.toString(); // KeyValue.value: string in k8s.io/cri-api
  if (Array.isArray(v)) return v.map((x) => forCrictl(x));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, forCrictl(x, k)]));
  if (typeof v === 'string' && ['network', 'pid', 'ipc'].includes(key)) return NS_MODE[v] ?? 0;
  if (typeof v === 'string' && ['cpu_shares', 'oom_score_adj'].includes(key)) return Number(v);
  return v;
}

async function timed(crictl: string, rt: RuntimeUnderTest, args: string[]): Promise<{ ms: number; out: string }> {
  const ep = `unix://${rt.client.address}`;
  const t0 = performance.now();
  const { stdout } = await run(crictl, ['--runtime-endpoint', ep, '--image-endpoint', ep, '--timeout', '60s', ...args]);
  return { ms: performance.now() - t0, out: stdout.trim() };
}

interface Loop {
  version: number;
  runp: number;
  whole: number;
  teardown: number;
}

/** crictl runp, create, start (ids from stdout), then stop, stopp, rm, rmp: the in-process sequence's calls. */
async function crictlPod(crictl: string, rt: RuntimeUnderTest, ctx: PodCtx): Promise<Loop> {
  const pod = podConfig(rt, ctx);
  const podJson = join(pod.dir, 'pod.json');
  const ctrJson = join(pod.dir, 'container.json');
  writeFileSync(podJson, JSON.stringify(forCrictl(pod.config)));
  writeFileSync(ctrJson, JSON.stringify(forCrictl(containerConfig(pod))));
  const version = (await timed(crictl, rt, ['version'])).ms;
  const runp = await timed(crictl, rt, ['runp', podJson]);
  const create = await timed(crictl, rt, ['create', runp.out, ctrJson, podJson]);
  const start = await timed(crictl, rt, ['start', create.out]);
  await workloadReady(pod.config.metadata?.uid ?? '');
  let teardown = 0;
  for (const args of [['stop', create.out], ['stopp', runp.out], ['rm', create.out], ['rmp', runp.out]]) teardown += (await timed(crictl, rt, args)).ms;
  return { version, runp: runp.ms, whole: runp.ms + create.ms + start.ms, teardown };
}

export async function crictlLoop(ctx: BenchContext): Promise<Metric[]> {
  const crictl = CRICTL_CANDIDATES.find((c) => c && existsSync(c));
  const warmup = 1;
  const iterations = ctx.quick ? 3 : 10;
  const version = metric('crictl_version', 'crictl version (process start-up + Version RPC)', 'ms');
  const runp = metric('crictl_runp', 'crictl runp (kubelet-shaped pod)', 'ms');
  const whole = metric('crictl_whole_pod', 'crictl runp+create+start', 'ms');
  const teardown = metric('crictl_teardown', 'crictl stop+stopp+rm+rmp', 'ms');
  const sharedRunp = metric('crictl_runp_shared_pid', 'crictl runp, shared PID namespace (infra process)', 'ms');
  const sharedGrpc = metric('grpc_sandbox_shared_pid', 'RunPodSandbox+Status in-process, shared PID namespace', 'ms');
  const all = [version, runp, whole, teardown, sharedRunp, sharedGrpc];
  if (!crictl) {
    for (const m of all) note(m, 'no crictl (deploy/lib/cri-tools.sh builds it)');
    return all;
  }
  const failed = new Set<string>();
  for (let i = 0; i < warmup + iterations; i++) {
    for (const rt of order(ctx.runtimes, i)) {
      if (failed.has(rt.name)) continue;
      try {
        const l = await crictlPod(crictl, rt, { logRoot: ctx.logRoot });
        const shared = await crictlPod(crictl, rt, { logRoot: ctx.logRoot, sharedPid: true });
        const t = await startPod(rt, { logRoot: ctx.logRoot, sharedPid: true });
        await workloadReady(t.uid);
        await stopPod(rt, t.podId, t.containerId);
        if (i < warmup) continue;
        addSample(version, rt.name, l.version);
        addSample(runp, rt.name, l.runp);
        addSample(whole, rt.name, l.whole);
        addSample(teardown, rt.name, l.teardown);
        addSample(sharedRunp, rt.name, shared.runp);
        addSample(sharedGrpc, rt.name, t.sandboxMs);
      } catch (e) {
        failed.add(rt.name);
        for (const m of all) note(m, `${rt.label} failed: ${errorText(e)}`);
        ctx.log(`crictl: ${rt.label} failed: ${errorText(e)}`);
      }
    }
  }
  return all;
}
