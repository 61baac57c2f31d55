// ListPodSandboxMetrics for one pod: gathers each live container's readings (host cgroup files for
// runc pods, the guest agent for micro-VM pods), its writable layer, its processes' fds, and the
// pod netns' interface counters, then hands them to cadvisor-metrics.ts.
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type * as cri from '../api/cri-types.js';
import { cgroupStatsV2, readCgroupStats, type CgroupStats } from '../cgroups/stats.js';
import { extraStatsV2, PROCS_CAP, readCgroupExtraStats, v2FileMap, type CgroupExtraStats } from '../cgroups/extra-stats.js';
import { netnsInterfaceStats } from '../network/cni.js';
import { nowNs } from '../store/time.js';
import type { ContainerRecord, SandboxRecord } from '../store/records.js';
import { containerMetrics, podNetworkMetrics, type PodLabels, type WritableLayerSample } from './cadvisor-metrics.js';
import { DeviceNames } from './device-names.js';
import { countFds, softOpenFilesLimit } from './proc-fds.js';
import type { StatsService } from './stats-service.js';

const devices = new DeviceNames();

/**
 * Pods sampled at once, across concurrent ListPodSandboxMetrics calls: each container costs a du
 * of its writable layer and a readdir per process, and a node has up to 110 pods (kubelet's
 * default max-pods); containerd 2.2 bounds the same loop at 10.
 */
export const MAX_PODS_IN_FLIGHT = 10;
let inFlight = 0;
const waiting: (() => void)[] = [];

/** Runs fn when fewer than MAX_PODS_IN_FLIGHT others run; a finishing call hands its slot on. */
export async function withPodSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (inFlight < MAX_PODS_IN_FLIGHT) inFlight++;
  else await new Promise<void>((r) => waiting.push(r));
  try {
    return await fn();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else inFlight--;
  }
}

function hostCgroup(path: string): { cgroup?: CgroupStats; extra?: CgroupExtraStats } {
  try {
    return { cgroup: readCgroupStats(path, {}, () => BigInt(nowNs())), extra: readCgroupExtraStats(path) };
  } catch {
    return {};
  }
}

async function writableLayer(stats: StatsService, c: ContainerRecord): Promise<WritableLayerSample | undefined> {
  const upper = join(c.dir, 'upper');
  const device = await devices.filesystemOf(upper);
  if (device === undefined) return undefined; // no host-side upper dir (a VM disk rootfs)
  const out: WritableLayerSample = { device };
  const used = await stats.layers.get(c.id, upper).catch(() => undefined); // stats are best effort: a container removed meanwhile has no layer
  if (used) out.usedBytes = used.bytes;
  const fs = await statfs(upper, { bigint: true }).catch(() => undefined); // stats are best effort: a container removed meanwhile has no layer
  if (fs) {
    out.limitBytes = fs.blocks * fs.bsize;
    out.inodesTotal = fs.files;
    out.inodesFree = fs.ffree;
  }
  return out;
}

async function sampleContainer(stats: StatsService, pod: PodLabels, c: ContainerRecord): Promise<cri.ContainerMetrics> {
  const rt = stats.sandboxes.runtimes.get(c.handler);
  const inGuest = rt?.tasks.containerCgroupStats !== undefined;
  let { cgroup, extra } = inGuest ? { cgroup: await rt!.tasks.containerCgroupStats!(c).catch(() => undefined), extra: undefined } : hostCgroup(c.cgroupsPath); // the VM may be gone: no cgroup sample, reported as zeroes
  let fromAgent = inGuest;
  if (cgroup?.guestFiles) {
    // An agent that sends its cgroup files: parsed like a host v2 cgroup, every reading real.
    const files = v2FileMap(cgroup.guestFiles);
    extra = extraStatsV2(files);
    cgroup = cgroupStatsV2(files, cgroup.timestampNs);
    fromAgent = false;
  }
  // Guest pids mean nothing in the host's /proc: fds, sockets and ulimits are host-only.
  const pids = inGuest ? undefined : extra?.procs;
  // Past PROCS_CAP the walk would be a partial sum: leave fds/sockets out rather than undercount.
  const fds = pids && pids.total <= PROCS_CAP ? await countFds(pids.pids) : undefined;
  const first = pids?.pids[0];
  const metrics = containerMetrics(pod, {
    id: c.id,
    name: c.config.metadata?.name ?? '',
    image: c.config.image?.user_specified_image || c.imageName || c.imageRef,
    startedAtNs: c.startedAt,
    resources: c.resources,
    cgroup,
    fromAgent,
    extra,
    fs: await writableLayer(stats, c),
    fds,
    openFilesSoft: first === undefined ? undefined : await softOpenFilesLimit(first),
    deviceName: (ma, mi) => devices.block(ma, mi),
    nowNs: BigInt(nowNs()),
  });
  return { container_id: c.id, metrics };
}

export function podMetrics(stats: StatsService, sb: SandboxRecord): Promise<cri.PodSandboxMetrics> {
  return withPodSlot(() => collectPod(stats, sb));
}

async function collectPod(stats: StatsService, sb: SandboxRecord): Promise<cri.PodSandboxMetrics> {
  const pod: PodLabels = { pod: sb.config.metadata?.name ?? '', namespace: sb.config.metadata?.namespace ?? '' };
  const live = stats.containers.inPod(sb.id).filter((c) => c.state !== 'CONTAINER_EXITED');
  const [container_metrics, net] = await Promise.all([
    Promise.all(live.map((c) => sampleContainer(stats, pod, c))),
    sb.namespaces.net && sb.state === 'SANDBOX_READY' ? netnsInterfaceStats(sb.namespaces.net).catch(() => []) : Promise.resolve([]), // a netns gone meanwhile has no interfaces
  ]);
  return { pod_sandbox_id: sb.id, metrics: podNetworkMetrics(pod, sb.id, net, BigInt(nowNs())), container_metrics };
}
