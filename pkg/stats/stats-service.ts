// Container and pod statistics from cgroups (cpu, memory, pids), the overlay upper dir
// (writable layer) and the pod's netns interface counters; plus cadvisor-style metrics.
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
    private readonly sandboxes: SandboxManager,
    private readonly containers: ContainerManager,
    private readonly layers: LayerUsageCache = new LayerUsageCache(),
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
    const s = rt?.containerCgroupStats ? await rt.containerCgroupStats(c).catch(() => undefined) : sample(c.cgroupsPath);
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
    const s = sample(sb.cgroupParent);
    const [ctrs, net] = await Promise.all([
      Promise.all(inPod.filter((c) => c.state !== 'CONTAINER_EXITED').map((c) => this.containerStats(c))),
      sb.namespaces.net && sb.state === 'SANDBOX_READY' ? netnsInterfaceStats(sb.namespaces.net).catch(() => []) : Promise.resolve([]),
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

/** cadvisor-compatible metric names served by ListPodSandboxMetrics. */
export const METRIC_DESCRIPTORS: cri.MetricDescriptor[] = [
  { name: 'container_cpu_usage_seconds_total', help: 'Cumulative cpu time consumed in seconds.', label_keys: ['container', 'pod', 'namespace'] },
  { name: 'container_memory_usage_bytes', help: 'Current memory usage in bytes, including all memory regardless of when it was accessed.', label_keys: ['container', 'pod', 'namespace'] },
  { name: 'container_memory_working_set_bytes', help: 'Current working set in bytes.', label_keys: ['container', 'pod', 'namespace'] },
  { name: 'container_memory_rss', help: 'Size of RSS in bytes.', label_keys: ['container', 'pod', 'namespace'] },
  { name: 'container_spec_memory_limit_bytes', help: 'Memory limit for the container.', label_keys: ['container', 'pod', 'namespace'] },
  { name: 'container_fs_usage_bytes', help: 'Number of bytes that are consumed by the container on this filesystem.', label_keys: ['container', 'pod', 'namespace'] },
  { name: 'container_network_receive_bytes_total', help: 'Cumulative count of bytes received.', label_keys: ['container', 'pod', 'namespace', 'interface'] },
  { name: 'container_network_transmit_bytes_total', help: 'Cumulative count of bytes transmitted.', label_keys: ['container', 'pod', 'namespace', 'interface'] },
];

export async function podMetrics(stats: StatsService, sb: SandboxRecord): Promise<cri.PodSandboxMetrics> {
  const ps = await stats.podStats(sb);
  const ts = nowNs();
  const m = sb.config.metadata!;
  const metric = (name: string, type: 'COUNTER' | 'GAUGE', labels: string[], v: string | undefined | null): cri.Metric => ({
    name,
    timestamp: ts,
    metric_type: type,
    label_values: labels,
    value: { value: v ?? '0' },
  });
  const secs = (ns: string | undefined | null) => (ns ? (BigInt(ns) / 1_000_000_000n).toString() : '0');
  const containerMetrics: cri.ContainerMetrics[] = (ps.linux?.containers ?? []).map((cs) => {
    const labels = [cs.attributes?.metadata?.name ?? '', m.name, m.namespace];
    return {
      container_id: cs.attributes?.id ?? '',
      metrics: [
        metric('container_cpu_usage_seconds_total', 'COUNTER', labels, secs(cs.cpu?.usage_core_nano_seconds?.value as string | undefined)),
        metric('container_memory_usage_bytes', 'GAUGE', labels, cs.memory?.usage_bytes?.value as string | undefined),
        metric('container_memory_working_set_bytes', 'GAUGE', labels, cs.memory?.working_set_bytes?.value as string | undefined),
        metric('container_memory_rss', 'GAUGE', labels, cs.memory?.rss_bytes?.value as string | undefined),
        metric('container_fs_usage_bytes', 'GAUGE', labels, cs.writable_layer?.used_bytes?.value as string | undefined),
      ],
    };
  });
  const podLabels = ['POD', m.name, m.namespace];
  const metrics: cri.Metric[] = [
    metric('container_cpu_usage_seconds_total', 'COUNTER', podLabels, secs(ps.linux?.cpu?.usage_core_nano_seconds?.value as string | undefined)),
    metric('container_memory_working_set_bytes', 'GAUGE', podLabels, ps.linux?.memory?.working_set_bytes?.value as string | undefined),
    metric('container_memory_rss', 'GAUGE', podLabels, ps.linux?.memory?.rss_bytes?.value as string | undefined),
  ];
  for (const i of ps.linux?.network?.interfaces ?? []) {
    metrics.push(metric('container_network_receive_bytes_total', 'COUNTER', [...podLabels, i.name ?? ''], i.rx_bytes?.value as string | undefined));
    metrics.push(metric('container_network_transmit_bytes_total', 'COUNTER', [...podLabels, i.name ?? ''], i.tx_bytes?.value as string | undefined));
  }
  return { pod_sandbox_id: sb.id, metrics, container_metrics: containerMetrics };
}
