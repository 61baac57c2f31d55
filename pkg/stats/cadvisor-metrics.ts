// Turns one container's sample (cgroup readings, /proc counts, the record) into the cAdvisor-style
// samples of ListPodSandboxMetrics, and a pod's interface counters into its network samples. Pure:
// pkg/stats/pod-metrics.ts gathers the inputs. Which input feeds which metric, and why a metric is
// sometimes left out, is the table in cadvisor-descriptors.ts.
import type * as cri from '../api/cri-types.js';
import type { CgroupStats } from '../cgroups/stats.js';
import type { CgroupExtraStats } from '../cgroups/extra-stats.js';
import type { InterfaceStats } from '../network/cni.js';
import { METRIC_DEF_BY_NAME } from './cadvisor-descriptors.js';
import type { ProcFdCounts } from './proc-fds.js';

const NS_PER_S = 1_000_000_000n;

export interface WritableLayerSample {
  /** mount source of the filesystem holding the upper dir (cAdvisor's device label) */
  device: string;
  usedBytes?: bigint;
  limitBytes?: bigint;
  inodesTotal?: bigint;
  inodesFree?: bigint;
}

export interface ContainerSample {
  id: string;
  name: string;
  image: string;
  /** ns since the epoch; "0"/"" before StartContainer */
  startedAtNs: string;
  resources?: cri.LinuxContainerResources__Output | undefined;
  /** cpu/memory/pids readings */
  cgroup?: CgroupStats | undefined;
  /**
   * True when `cgroup` came from the micro-VM guest agent: it reports cpu usage, memory usage,
   * working set, rss, oom kills and pids; the rest of CgroupStats is filler there, not a reading.
   */
  fromAgent: boolean;
  extra?: CgroupExtraStats | undefined;
  fs?: WritableLayerSample | undefined;
  fds?: ProcFdCounts | undefined;
  openFilesSoft?: number | undefined;
  /** "/dev/sda" for 8:0 (cAdvisor's device label of block I/O) */
  deviceName: (major: number, minor: number) => string;
  nowNs: bigint;
}

export interface PodLabels {
  pod: string;
  namespace: string;
}

type Num = bigint | number | undefined;

/** Collects samples; every name must be described and every label list must match its keys. */
class Emitter {
  readonly out: cri.Metric[] = [];
  constructor(
    private readonly base: string[],
    private readonly ts: string,
  ) {}

  emit(name: string, value: Num, extraLabels: string[] = []): void {
    if (value === undefined) return;
    const def = METRIC_DEF_BY_NAME.get(name);
    const labels = [...this.base, ...extraLabels];
    if (!def || def.labelKeys.length !== labels.length) throw new Error(`metric ${name}: not described or wrong label count`);
    const v = typeof value === 'bigint' ? value : BigInt(Math.max(0, Math.floor(value)));
    this.out.push({ name, timestamp: this.ts, metric_type: def.type, label_values: labels, value: { value: (v < 0n ? 0n : v).toString() } });
  }
}

const secs = (ns: bigint | undefined) => (ns === undefined ? undefined : ns / NS_PER_S);
/** A CRI resource value (int64 as a string); undefined when unset (0) or negative (-1 = none). */
const setValue = (v: string | undefined) => (v && v !== '0' && /^\d+$/.test(v) ? BigInt(v) : undefined);

export function containerMetrics(pod: PodLabels, s: ContainerSample): cri.Metric[] {
  const e = new Emitter([pod.pod, pod.namespace, s.name, s.id, s.image], s.nowNs.toString());
  const cpu = s.cgroup?.cpu;
  const mem = s.cgroup?.memory;
  const host = !s.fromAgent;

  e.emit('container_last_seen', s.nowNs / NS_PER_S);
  const started = /^\d+$/.test(s.startedAtNs) ? BigInt(s.startedAtNs) : 0n;
  if (started > 0n) e.emit('container_start_time_seconds', started / NS_PER_S);

  e.emit('container_cpu_usage_seconds_total', secs(cpu?.usageNs));
  if (host) {
    e.emit('container_cpu_user_seconds_total', secs(cpu?.userNs));
    e.emit('container_cpu_system_seconds_total', secs(cpu?.systemNs));
  }
  const cfs = s.extra?.cfs;
  if (cfs) {
    e.emit('container_cpu_cfs_periods_total', cfs.periods);
    e.emit('container_cpu_cfs_throttled_periods_total', cfs.throttledPeriods);
    e.emit('container_cpu_cfs_throttled_seconds_total', cfs.throttledNs / NS_PER_S);
  }

  if (mem) {
    e.emit('container_memory_usage_bytes', mem.usageBytes);
    e.emit('container_memory_working_set_bytes', mem.workingSetBytes);
    e.emit('container_memory_rss', mem.rssBytes);
    e.emit('container_oom_events_total', mem.oomKills);
    if (host) {
      e.emit('container_memory_cache', mem.cacheBytes);
      e.emit('container_memory_failcnt', mem.limitHits);
    }
  }
  const mx = s.extra?.memory;
  if (mx) {
    e.emit('container_memory_mapped_file', mx.mappedFileBytes);
    e.emit('container_memory_swap', mx.swapBytes);
    e.emit('container_memory_kernel_usage', mx.kernelBytes);
    e.emit('container_memory_max_usage_bytes', mx.maxUsageBytes);
    e.emit('container_memory_total_active_file_bytes', mx.activeFileBytes);
    e.emit('container_memory_total_inactive_file_bytes', mx.inactiveFileBytes);
    e.emit('container_spec_memory_reservation_limit_bytes', mx.reservationBytes);
    for (const [scope, f] of [['container', mx.faultsContainer], ['hierarchy', mx.faultsHierarchy]] as const) {
      if (!f) continue;
      e.emit('container_memory_failures_total', f.pgfault, ['pgfault', scope]);
      e.emit('container_memory_failures_total', f.pgmajfault, ['pgmajfault', scope]);
    }
  }

  const fs = s.fs;
  if (fs) {
    e.emit('container_fs_usage_bytes', fs.usedBytes, [fs.device]);
    e.emit('container_fs_limit_bytes', fs.limitBytes, [fs.device]);
    e.emit('container_fs_inodes_total', fs.inodesTotal, [fs.device]);
    e.emit('container_fs_inodes_free', fs.inodesFree, [fs.device]);
  }
  for (const io of s.extra?.io ?? []) {
    const dev = s.deviceName(io.major, io.minor);
    e.emit('container_fs_reads_bytes_total', io.readBytes, [dev]);
    e.emit('container_fs_reads_total', io.reads, [dev]);
    e.emit('container_fs_writes_bytes_total', io.writeBytes, [dev]);
    e.emit('container_fs_writes_total', io.writes, [dev]);
    const mm = [dev, String(io.major), String(io.minor)];
    e.emit('container_blkio_device_usage_total', io.readBytes, [...mm, 'Read']);
    e.emit('container_blkio_device_usage_total', io.writeBytes, [...mm, 'Write']);
  }

  e.emit('container_processes', s.extra?.procs?.total);
  e.emit('container_threads', s.cgroup?.pids?.current);
  e.emit('container_threads_max', s.extra?.threadsMax);
  e.emit('container_file_descriptors', s.fds?.fds);
  e.emit('container_sockets', s.fds?.sockets);
  e.emit('container_ulimits_soft', s.openFilesSoft, ['max_open_files']);

  const r = s.resources;
  e.emit('container_spec_cpu_period', setValue(r?.cpu_period));
  e.emit('container_spec_cpu_quota', setValue(r?.cpu_quota)); // -1 (no quota) is left out too
  e.emit('container_spec_cpu_shares', setValue(r?.cpu_shares));
  e.emit('container_spec_memory_limit_bytes', setValue(r?.memory_limit_in_bytes));
  e.emit('container_spec_memory_swap_limit_bytes', setValue(r?.memory_swap_limit_in_bytes));
  return e.out;
}

/** Pod-level network samples (container="POD", like cAdvisor's pause container); lo is left out. */
export function podNetworkMetrics(pod: PodLabels, sandboxId: string, ifaces: readonly InterfaceStats[], nowNs: bigint): cri.Metric[] {
  const e = new Emitter([pod.pod, pod.namespace, 'POD', sandboxId, ''], nowNs.toString());
  for (const i of ifaces) {
    if (i.name === 'lo') continue;
    e.emit('container_network_receive_bytes_total', i.rxBytes, [i.name]);
    e.emit('container_network_receive_packets_total', i.rxPackets, [i.name]);
    e.emit('container_network_receive_packets_dropped_total', i.rxDropped, [i.name]);
    e.emit('container_network_receive_errors_total', i.rxErrors, [i.name]);
    e.emit('container_network_transmit_bytes_total', i.txBytes, [i.name]);
    e.emit('container_network_transmit_packets_total', i.txPackets, [i.name]);
    e.emit('container_network_transmit_packets_dropped_total', i.txDropped, [i.name]);
    e.emit('container_network_transmit_errors_total', i.txErrors, [i.name]);
  }
  return e.out;
}
