// Pod and container configs shaped like kubelet's (v1.36, cgroupfs driver, a BestEffort pod with one
// busybox container), and the CRI sequences kubelet runs for them, timed the way kubelet sees them:
// one persistent gRPC connection, SyncPod's calls in SyncPod's order.
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { RunPodSandboxRequest } from '../api/gen/cri/runtime/v1/RunPodSandboxRequest.js';
import type { PodSandboxConfig } from '../api/gen/cri/runtime/v1/PodSandboxConfig.js';
import type { ContainerConfig } from '../api/gen/cri/runtime/v1/ContainerConfig.js';
import type { RuntimeUnderTest } from './runtimes/runtime.js';
import { listProcesses } from './proc.js';

export const BUSYBOX = 'docker.io/library/busybox:latest';
/** The workload's processes (sh as PID 1, its sleep): excluded from the runtime's per-pod overhead. */
export const WORKLOAD_COMMS = ['sleep', 'sh'];
/**
 * PID 1 of the container: it must exit on SIGTERM like a real workload, or StopContainer waits the
 * whole grace period (a bare `sleep` as PID 1 ignores SIGTERM). `wait` returns on the trapped
 * signal at once; the background sleep dies with the PID namespace. The pod uid in the script
 * (a comment) lets the bench find it in /proc and wait until the trap is set (workloadReady).
 */
const workload = (uid: string) => ['sh', '-c', `trap "exit 0" TERM; sleep 86400 & wait # ${uid}`];
/** kubelet's terminationGracePeriodSeconds default. */
const GRACE_SECONDS = 30;

// kubelet's defaults for a container without procMount: Unmasked (pkg/securitycontext/util.go).
const MASKED_PATHS = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

let seq = 0;

export interface PodCtx {
  logRoot: string;
  handler?: string;
  /** shareProcessNamespace: true — one PID namespace for the pod, which needs an infra process
   *  (pause/catatonit); kubelet's default is one per container. Also what a pod config without
   *  namespace_options means over CRI (NamespaceMode 0 is POD). */
  sharedPid?: boolean;
  /** Deadline of each CRI call (default the client's 120 s): VM bursts under TCG take longer. */
  callTimeoutMs?: number;
}

/** A pod as kubelet sends it; `dir` holds what kubelet writes on the node for it (etc-hosts, termination log). */
export interface KubeletPod {
  config: PodSandboxConfig;
  dir: string;
}

export function podConfig(rt: RuntimeUnderTest, ctx: PodCtx): KubeletPod {
  const n = ++seq;
  const uid = randomUUID();
  const dir = join(ctx.logRoot, uid);
  mkdirSync(dir, { recursive: true });
  const name = `bench-${rt.name}-${n}`;
  return {
    dir,
    config: {
      metadata: { name, namespace: 'bench', uid, attempt: 0 },
      hostname: name,
      log_directory: dir,
      dns_config: { servers: ['10.96.0.10'], searches: ['bench.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], options: ['ndots:5'] },
      labels: { app: 'bench', 'io.kubernetes.pod.name': name, 'io.kubernetes.pod.namespace': 'bench', 'io.kubernetes.pod.uid': uid },
      annotations: { 'kubernetes.io/config.seen': new Date().toISOString(), 'kubernetes.io/config.source': 'api' },
      linux: {
        security_context: { namespace_options: { network: 'POD', pid: ctx.sharedPid ? 'POD' : 'CONTAINER', ipc: 'POD' } },
      },
    },
  };
}

/** imageRef: the image's id from ImageStatus, which kubelet passes with the name the pod spec used. */
export function containerConfig(pod: KubeletPod, imageRef = BUSYBOX): ContainerConfig {
  const hosts = join(pod.dir, 'etc-hosts');
  const termination = join(pod.dir, 'termination-log');
  writeFileSync(hosts, `127.0.0.1\tlocalhost\n::1\tlocalhost\n`);
  writeFileSync(termination, '');
  // kubelet creates the container's log dir (<pod log dir>/<container name>/); CRI-O relies on it.
  mkdirSync(join(pod.dir, 'sleeper'), { recursive: true });
  return {
    metadata: { name: 'sleeper', attempt: 0 },
    image: { image: imageRef, user_specified_image: BUSYBOX },
    command: workload(pod.config.metadata?.uid ?? ''),
    // The service environment kubelet injects into every container.
    envs: [
      ['KUBERNETES_SERVICE_HOST', '10.96.0.1'], ['KUBERNETES_SERVICE_PORT', '443'], ['KUBERNETES_SERVICE_PORT_HTTPS', '443'],
      ['KUBERNETES_PORT', 'tcp://10.96.0.1:443'], ['KUBERNETES_PORT_443_TCP', 'tcp://10.96.0.1:443'],
      ['KUBERNETES_PORT_443_TCP_PROTO', 'tcp'], ['KUBERNETES_PORT_443_TCP_PORT', '443'], ['KUBERNETES_PORT_443_TCP_ADDR', '10.96.0.1'],
    ].map(([key, value]) => ({ key: key!, value: Buffer.from(value!) })), // bytes in this repo's CRI proto
    mounts: [
      { container_path: '/etc/hosts', host_path: hosts },
      { container_path: '/dev/termination-log', host_path: termination },
    ],
    labels: { 'io.kubernetes.container.name': 'sleeper', ...pod.config.labels },
    annotations: { 'io.kubernetes.container.restartCount': '0', 'io.kubernetes.container.terminationMessagePath': '/dev/termination-log' },
    log_path: 'sleeper/0.log',
    linux: {
      // BestEffort: cpu.shares 2, oom_score_adj 1000 (kubelet's qos policy).
      resources: { cpu_shares: '2', oom_score_adj: '1000' },
      security_context: {
        namespace_options: pod.config.linux?.security_context?.namespace_options ?? {},
        masked_paths: MASKED_PATHS,
        readonly_paths: READONLY_PATHS,
      },
    },
  };
}

export interface PodTiming {
  podId: string;
  containerId: string;
  uid: string;
  sandboxMs: number;
  containerMs: number;
  wholeMs: number;
}

/**
 * kubelet's SyncPod for a new one-container pod: RunPodSandbox, PodSandboxStatus (it needs the
 * IP), ImageStatus (imagePullPolicy IfNotPresent, image present: no pull), CreateContainer,
 * StartContainer. The pod counts as running when ContainerStatus says so (kubelet learns it from
 * its PLEG relist, which adds up to 1 s of its own; the runtime's part ends here).
 */
export async function startPod(rt: RuntimeUnderTest, ctx: PodCtx): Promise<PodTiming> {
  const pod = podConfig(rt, ctx);
  const req: RunPodSandboxRequest = { config: pod.config, runtime_handler: ctx.handler ?? '' };
  const api = rt.client.runtime;
  const t0 = performance.now();
  const { pod_sandbox_id } = await api.RunPodSandbox(req, ctx.callTimeoutMs);
  await api.PodSandboxStatus({ pod_sandbox_id, verbose: false });
  const t1 = performance.now();
  const img = await rt.client.image.ImageStatus({ image: { image: BUSYBOX } });
  const imageRef = img.image?.id || BUSYBOX;
  const { container_id } = await api.CreateContainer({ pod_sandbox_id, config: containerConfig(pod, imageRef), sandbox_config: pod.config }, ctx.callTimeoutMs);
  await api.StartContainer({ container_id }, ctx.callTimeoutMs);
  const st = await api.ContainerStatus({ container_id, verbose: false });
  const t2 = performance.now();
  if (st.status?.state !== 'CONTAINER_RUNNING') throw new Error(`container ${container_id} is ${String(st.status?.state)} after StartContainer`);
  return { podId: pod_sandbox_id, containerId: container_id, uid: pod.config.metadata?.uid ?? '', sandboxMs: t1 - t0, containerMs: t2 - t1, wholeMs: t2 - t0 };
}

/**
 * Waits (untimed) until the workload's shell handles SIGTERM: a StopContainer sent before its
 * `trap` ran is ignored by PID 1 and waits the whole 30 s grace period (seen under load 20).
 * Real pods run for a while before kubelet stops them. Host /proc, so it works for every runtime
 * with runc (not inside a micro-VM: there it returns after timeoutMs).
 */
export async function workloadReady(uids: string | string[], timeoutMs = 3000): Promise<boolean> {
  const SIGTERM_BIT = 1n << 14n; // signal 15, SigCgt is a mask of (1 << (signo - 1))
  const waiting = new Set(typeof uids === 'string' ? [uids] : uids);
  const deadline = Date.now() + timeoutMs;
  while (waiting.size && Date.now() < deadline) {
    for (const p of listProcesses()) {
      if (p.comm !== 'sh') continue;
      const uid = [...waiting].find((u) => p.cmdline.includes(u));
      if (!uid) continue;
      try {
        const caught = /^SigCgt:\s*([0-9a-f]+)/m.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'))?.[1];
        if (caught && (BigInt(`0x${caught}`) & SIGTERM_BIT) !== 0n) waiting.delete(uid);
      } catch {
        /* exited meanwhile */
      }
    }
    if (waiting.size) await sleep(5);
  }
  return waiting.size === 0;
}

/**
 * kubelet's killPod then its garbage collection: StopContainer (SIGTERM, grace period), then
 * StopPodSandbox; RemoveContainer and RemovePodSandbox. The workload exits on SIGTERM at once.
 */
export async function stopPod(rt: RuntimeUnderTest, podId: string, containerId?: string): Promise<number> {
  const api = rt.client.runtime;
  const t0 = performance.now();
  if (containerId) await api.StopContainer({ container_id: containerId, timeout: String(GRACE_SECONDS) }, (GRACE_SECONDS + 30) * 1000);
  await api.StopPodSandbox({ pod_sandbox_id: podId });
  if (containerId) await api.RemoveContainer({ container_id: containerId });
  await api.RemovePodSandbox({ pod_sandbox_id: podId });
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
