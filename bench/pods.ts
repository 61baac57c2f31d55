// Pod and container configs as kubelet would send them (minus cgroup parent: each runtime uses
// its own default), and the timed CRI sequences the scenarios are built from.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { RunPodSandboxRequest } from '../api/gen/cri/runtime/v1/RunPodSandboxRequest.js';
import type { PodSandboxConfig } from '../api/gen/cri/runtime/v1/PodSandboxConfig.js';
import type { ContainerConfig } from '../api/gen/cri/runtime/v1/ContainerConfig.js';
import type { RuntimeUnderTest } from './runtimes/runtime.js';

export const BUSYBOX = 'docker.io/library/busybox:latest';
/** The workload's process name: excluded from the runtime's per-pod overhead. */
export const WORKLOAD_COMMS = ['sleep'];

let seq = 0;

export interface PodCtx {
  logRoot: string;
  handler?: string;
}

export function podConfig(rt: RuntimeUnderTest, ctx: PodCtx): PodSandboxConfig {
  const n = ++seq;
  const uid = randomUUID();
  const logDir = join(ctx.logRoot, uid);
  mkdirSync(logDir, { recursive: true });
  return {
    metadata: { name: `bench-${rt.name}-${n}`, namespace: 'bench', uid, attempt: 0 },
    hostname: `bench-${n}`,
    log_directory: logDir,
    labels: { app: 'bench' },
    linux: {
      security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } },
    },
  };
}

export function containerConfig(): ContainerConfig {
  return {
    metadata: { name: 'sleeper', attempt: 0 },
    image: { image: BUSYBOX },
    command: ['sleep', '86400'],
    log_path: 'sleeper.log',
    linux: { security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
  };
}

export interface PodTiming {
  podId: string;
  sandboxMs: number;
  containerMs: number;
  wholeMs: number;
}

/** RunPodSandbox, then CreateContainer + StartContainer: the sequence kubelet runs for a one-container pod. */
export async function startPod(rt: RuntimeUnderTest, ctx: PodCtx): Promise<PodTiming> {
  const config = podConfig(rt, ctx);
  const req: RunPodSandboxRequest = { config, runtime_handler: ctx.handler ?? '' };
  const t0 = performance.now();
  const { pod_sandbox_id } = await rt.client.runtime.RunPodSandbox(req);
  const t1 = performance.now();
  const { container_id } = await rt.client.runtime.CreateContainer({
    pod_sandbox_id,
    config: containerConfig(),
    sandbox_config: config,
  });
  await rt.client.runtime.StartContainer({ container_id });
  const t2 = performance.now();
  return { podId: pod_sandbox_id, sandboxMs: t1 - t0, containerMs: t2 - t1, wholeMs: t2 - t0 };
}

/** StopPodSandbox + RemovePodSandbox (kubelet's teardown once the containers are gone). */
export async function stopPod(rt: RuntimeUnderTest, podId: string): Promise<number> {
  const t0 = performance.now();
  await rt.client.runtime.StopPodSandbox({ pod_sandbox_id: podId });
  await rt.client.runtime.RemovePodSandbox({ pod_sandbox_id: podId });
  return performance.now() - t0;
}

/** Runs fn over items with at most `limit` in flight. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}
