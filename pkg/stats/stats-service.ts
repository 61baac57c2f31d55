// Container and pod statistics from cgroups (cpu, memory, pids), the overlay upper dir
// (writable layer) and the pod's netns interface counters.
import type * as cri from '../api/cri-types.js';
import type { ContainerManager } from '../container/container-manager.js';
import type { SandboxManager } from '../sandbox/sandbox-manager.js';
import type { ContainerRecord, SandboxRecord } from '../store/records.js';
import { netnsInterfaceStats } from '../network/cni.js';
import { nowNs } from '../store/time.js';
import { readCgroupStats, cpuUsageNanoCores, type CgroupStats, type CpuSample } from '../cgroups/stats.js';
import { LayerUsageCache } from './layer-usage-cache.js';
import { join } from 'node:path';

const u64 = (v: bigint | number | undefined): cri.UInt64Value | null => (v === undefined ? null : { value: v.toString() });

/** Previous cpu sample per cgroup, for usage_nano_cores. */
export class CpuRateTracker {
  private readonly prev = new Map<string, CpuSample>();

  nanoCores(key: string, s: CgroupStats): bigint | undefined {
    if (!s.cpu) return undefined;
    const cur = { timestampNs: s.timestampNs, usageNs: s.cpu.usageNs };
    const p = this.prev.get(key);
    this.prev.set(key, cur);
    return p ? cpuUsageNanoCores(p, cur) : undefined;
  }
}

function sample(path: string): CgroupStats | undefined {
  try {
    const s = readCgroupStats(path, {}, () => BigInt(nowNs()));
    return s.cpu || s.memory ? s : undefined;
  } catch {
    return undefined;
  }
}

export class StatsService {
  private readonly rates = new CpuRateTracker();

  constructor(
    readonly sandboxes: SandboxManager,
    readonly containers: ContainerManager,
    /** shared with pod-metrics.ts: one du of a writable layer serves stats and metrics */
    readonly layers: LayerUsageCache = new LayerUsageCache(),
  ) {}

  private cpu(key: string, s: CgroupStats | undefined, ts: string): cri.CpuUsage {
    return {
      timestamp: ts,
      usage_core_nano_seconds: u64(s?.cpu?.usageNs ?? 0n),
      usage_nano_cores: u64(s ? (this.rates.nanoCores(key, s) ?? 0n) : 0n),
    };
  }

  private memory(s: CgroupStats | undefined, ts: string): cri.MemoryUsage {
    const m = s?.memory;
    return {
      timestamp: ts,
      working_set_bytes: u64(m?.workingSetBytes ?? 0),
      available_bytes: u64(m?.availableBytes ?? 0),
      usage_bytes: u64(m?.usageBytes ?? 0),
      rss_bytes: u64(m?.rssBytes ?? 0),
      page_faults: u64(m?.pageFaults ?? 0),
      major_page_faults: u64(m?.majorPageFaults ?? 0),
    };
  }

  async containerStats(c: ContainerRecord): Promise<cri.ContainerStats> {
    const now = nowNs();
    const rt = this.sandboxes.runtimes.get(c.handler);
    const s = rt?.tasks.containerCgroupStats ? await rt.tasks.containerCgroupStats(c).catch(() => undefined) : sample(c.cgroupsPath); // the VM may be gone: no cgroup sample for this container
    const layer = await this.layers.get(c.id, join(c.dir, 'upper')).catch(() => ({ bytes: 0n, inodes: 0n }));
    return {
      attributes: { id: c.id, metadata: c.config.metadata, labels: c.config.labels, annotations: c.config.annotations },
      cpu: this.cpu(c.id, s, now),
      memory: this.memory(s, now),
      writable_layer: { timestamp: now, fs_id: { mountpoint: join(c.dir, 'upper') }, used_bytes: u64(layer.bytes), inodes_used: u64(layer.inodes) },
    };
  }

  async podStats(sb: SandboxRecord): Promise<cri.PodSandboxStats> {
    const now = nowNs();
    const inPod = this.containers.inPod(sb.id);
    // A VM pod's VMM is read from /proc (a warm-pool VM's boot stays charged outside its cgroup).
    const rt = this.sandboxes.runtimes.get(sb.handler);
    const s = (rt?.controller.sandboxStats ? await rt.controller.sandboxStats(sb).catch(() => undefined) : undefined) ?? sample(sb.cgroupParent); // no VMM figures (VM gone): the pod cgroup is read instead
    const [ctrs, net] = await Promise.all([
      Promise.all(inPod.filter((c) => c.state !== 'CONTAINER_EXITED').map((c) => this.containerStats(c))),
      sb.namespaces.net && sb.state === 'SANDBOX_READY' ? netnsInterfaceStats(sb.namespaces.net).catch(() => []) : Promise.resolve([]), // a netns gone meanwhile has no interfaces
    ]);
    const ifaces: cri.NetworkInterfaceUsage[] = net
      .filter((i) => i.name !== 'lo')
      .map((i) => ({ name: i.name, rx_bytes: u64(i.rxBytes), rx_errors: u64(i.rxErrors), tx_bytes: u64(i.txBytes), tx_errors: u64(i.txErrors) }));
    return {
      attributes: { id: sb.id, metadata: sb.config.metadata, labels: sb.config.labels, annotations: sb.config.annotations },
      linux: {
        cpu: this.cpu(`pod:${sb.id}`, s, now),
        memory: this.memory(s, now),
        network: { timestamp: now, default_interface: ifaces.find((i) => i.name === 'eth0') ?? ifaces[0] ?? null, interfaces: ifaces },
        process: { timestamp: now, process_count: u64(s?.pids?.current ?? 0) },
        containers: ctrs,
      },
    };
  }

  async listContainerStats(filter: cri.ContainerStatsFilter__Output | null): Promise<cri.ContainerStats[]> {
    let items = this.containers.all().filter((c) => c.state === 'CONTAINER_RUNNING' || c.state === 'CONTAINER_CREATED');
    if (filter?.id) {
      const one = this.containers.find(filter.id);
      items = items.filter((c) => c === one);
    }
    if (filter?.pod_sandbox_id) {
      const sb = this.sandboxes.find(filter.pod_sandbox_id);
      items = items.filter((c) => c.podId === sb?.id);
    }
    const sel = filter?.label_selector ?? {};
    items = items.filter((c) => Object.entries(sel).every(([k, v]) => c.config.labels[k] === v));
    this.layers.retainOnly(new Set(this.containers.all().map((c) => c.id)));
    return Promise.all(items.map((c) => this.containerStats(c)));
  }

  async listPodStats(filter: cri.PodSandboxStatsFilter__Output | null): Promise<cri.PodSandboxStats[]> {
    let items = this.sandboxes.all().filter((s) => s.phase === 'created');
    if (filter?.id) {
      const one = this.sandboxes.find(filter.id);
      items = items.filter((s) => s === one);
    }
    const sel = filter?.label_selector ?? {};
    items = items.filter((s) => Object.entries(sel).every(([k, v]) => s.config.labels[k] === v));
    this.layers.retainOnly(new Set(this.containers.all().map((c) => c.id)));
    return Promise.all(items.map((s) => this.podStats(s)));
  }
}

// The cAdvisor-compatible metrics (ListMetricDescriptors / ListPodSandboxMetrics) live in
// cadvisor-descriptors.ts, cadvisor-metrics.ts and pod-metrics.ts.
export { METRIC_DESCRIPTORS } from './cadvisor-descriptors.js';
export { podMetrics } from './pod-metrics.js';
