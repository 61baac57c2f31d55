// The cAdvisor-compatible metric set of ListMetricDescriptors / ListPodSandboxMetrics: names, help,
// label keys and types as containerd 2.2's CRI server serves them for kubelet's /metrics/cadvisor
// (kubelet builds one Prometheus descriptor per entry and rejects a sample whose label values do
// not match its label_keys in number).
//
// Labels: pod, namespace, container, id, image (containerd's order); id is the container ID, image
// the image the container was created from. Pod-level network series carry container="POD", id =
// the sandbox ID and image "" (cAdvisor's pause-container series; containerd leaves container "").
//
// Where each value comes from, and what happens when it is unknown (a metric is then left out of
// that container's samples, never sent as 0). Micro-VM pods: the guest agent sends its container
// cgroup's v2 files (agent.proto cgroup_files), parsed as a host v2 cgroup; an older agent sends
// only cpu usage, memory usage/working set/rss, oom kills and pids, and every other cgroup metric is
// left out. fds, sockets and ulimits need the guest's /proc: left out for VM pods either way.
//
// | metric                                   | source                                                         | unknown → |
// |------------------------------------------|----------------------------------------------------------------|-----------|
// | cpu_usage/user/system_seconds_total      | v1 cpuacct.usage(_user/_sys) / v2 cpu.stat *_usec; floor s     | omitted (agent: usage only) |
// | cpu_cfs_periods/throttled_periods/_secs  | cpu.stat nr_periods, nr_throttled, throttled_time/_usec        | omitted (no cpu controller) |
// | memory_usage/working_set/rss/cache       | memory.usage_in_bytes / memory.current, memory.stat            | omitted (agent: no cache) |
// | memory_mapped_file, total_(in)active_file| memory.stat (total_)mapped_file / file_mapped, (in)active_file | omitted |
// | memory_swap                              | v1 memsw.usage − usage (swap accounting on) / v2 swap.current  | omitted |
// | memory_kernel_usage                      | v1 memory.kmem.usage_in_bytes / v2 memory.stat "kernel" (5.18+)| omitted |
// | memory_max_usage_bytes                   | v1 memory.max_usage_in_bytes / v2 memory.peak (5.19+)          | omitted (containerd sends memory.max here) |
// | memory_failcnt                           | v1 memory.failcnt / v2 memory.events "max" (times usage hit the limit, what failcnt counts) | omitted |
// | memory_failures_total{failure_type,scope}| pgfault/pgmajfault; scope container = own, hierarchy = with descendants (v2 own = hierarchy only for a leaf cgroup) | that scope omitted |
// | oom_events_total                         | v1 memory.oom_control oom_kill (4.13+) / v2 memory.events oom_kill / agent | omitted |
// | fs_usage_bytes{device}                   | du of the writable layer (the upper dir)                       | omitted |
// | fs_limit_bytes, fs_inodes_total/free     | statfs of the filesystem holding the upper dir (device-level, as cAdvisor) | omitted |
// | fs_reads/writes(_bytes)_total, blkio_device_usage_total | v1 blkio io_service(d|_bytes) (throttle fallback) / v2 io.stat, per device | omitted |
// | processes                                | lines of cgroup.procs                                          | omitted |
// | threads                                  | pids.current (the pids controller counts tasks = threads)      | omitted |
// | threads_max                              | pids.max; 0 for "max" (the help text's encoding of infinity)   | omitted (no pids controller) |
// | file_descriptors, sockets                | /proc/<pid>/fd of cgroup.procs' pids, at most PROCS_CAP (4096) | omitted past the cap (a partial sum is not the total) and for VM pods |
// | ulimits_soft{ulimit="max_open_files"}    | /proc/<first pid>/limits soft "Max open files"                 | omitted when unlimited (cAdvisor's −1 does not fit a uint64) |
// | last_seen                                | the time of this sample                                        | — |
// | start_time_seconds                       | the container record's startedAt                               | omitted before StartContainer |
// | spec_cpu_period/quota/shares, spec_memory_limit_bytes, spec_memory_swap_limit_bytes | the CRI resources applied (record) | omitted when not set (0) |
// | spec_memory_reservation_limit_bytes      | the cgroup: v1 memory.soft_limit_in_bytes / v2 memory.low (CRI has no field) | omitted (unlimited, agent) |
// | network_{receive,transmit}_{bytes,packets,errors,packets_dropped}_total{interface} | /proc/net/dev in the pod netns, lo excluded | pod without netns / host network: omitted |
import type * as cri from '../api/cri-types.js';

export type MetricType = 'COUNTER' | 'GAUGE';

export const BASE_LABELS = ['pod', 'namespace', 'container', 'id', 'image'] as const;
const NET = [...BASE_LABELS, 'interface'];
const DISK = [...BASE_LABELS, 'device'];

export interface MetricDef {
  name: string;
  help: string;
  type: MetricType;
  labelKeys: readonly string[];
}

const d = (name: string, type: MetricType, help: string, labelKeys: readonly string[] = BASE_LABELS): MetricDef => ({ name, type, help, labelKeys });

export const METRIC_DEFS: readonly MetricDef[] = [
  // cpu
  d('container_cpu_usage_seconds_total', 'COUNTER', 'Cumulative cpu time consumed in seconds.'),
  d('container_cpu_user_seconds_total', 'COUNTER', 'Cumulative user cpu time consumed in seconds.'),
  d('container_cpu_system_seconds_total', 'COUNTER', 'Cumulative system cpu time consumed in seconds.'),
  d('container_cpu_cfs_periods_total', 'COUNTER', 'Number of elapsed enforcement period intervals.'),
  d('container_cpu_cfs_throttled_periods_total', 'COUNTER', 'Number of throttled period intervals.'),
  d('container_cpu_cfs_throttled_seconds_total', 'COUNTER', 'Total time duration the container has been throttled.'),
  // memory
  d('container_memory_usage_bytes', 'GAUGE', 'Current memory usage in bytes, including all memory regardless of when it was accessed.'),
  d('container_memory_working_set_bytes', 'GAUGE', 'Current working set in bytes.'),
  d('container_memory_rss', 'GAUGE', 'Size of RSS in bytes.'),
  d('container_memory_cache', 'GAUGE', 'Number of bytes of page cache memory.'),
  d('container_memory_mapped_file', 'GAUGE', 'Size of memory mapped files in bytes.'),
  d('container_memory_swap', 'GAUGE', 'Container swap usage in bytes.'),
  d('container_memory_kernel_usage', 'GAUGE', 'Size of kernel memory allocated in bytes.'),
  d('container_memory_max_usage_bytes', 'GAUGE', 'Maximum memory usage recorded in bytes.'),
  d('container_memory_total_active_file_bytes', 'GAUGE', 'Current total active file in bytes.'),
  d('container_memory_total_inactive_file_bytes', 'GAUGE', 'Current total inactive file in bytes.'),
  d('container_memory_failcnt', 'COUNTER', 'Number of memory usage hits limits.'),
  d('container_memory_failures_total', 'COUNTER', 'Cumulative count of memory allocation failures.', [...BASE_LABELS, 'failure_type', 'scope']),
  d('container_oom_events_total', 'COUNTER', 'Count of out of memory events observed for the container.'),
  // filesystem (writable layer) and block I/O
  d('container_fs_usage_bytes', 'GAUGE', 'Number of bytes that are consumed by the container on this filesystem.', DISK),
  d('container_fs_limit_bytes', 'GAUGE', 'Number of bytes that can be consumed by the container on this filesystem.', DISK),
  d('container_fs_inodes_total', 'GAUGE', 'Number of Inodes.', DISK),
  d('container_fs_inodes_free', 'GAUGE', 'Number of available Inodes.', DISK),
  d('container_fs_reads_bytes_total', 'COUNTER', 'Cumulative count of bytes read.', DISK),
  d('container_fs_reads_total', 'COUNTER', 'Cumulative count of reads completed.', DISK),
  d('container_fs_writes_bytes_total', 'COUNTER', 'Cumulative count of bytes written.', DISK),
  d('container_fs_writes_total', 'COUNTER', 'Cumulative count of writes completed.', DISK),
  d('container_blkio_device_usage_total', 'COUNTER', 'Blkio Device bytes usage.', [...DISK, 'major', 'minor', 'operation']),
  // processes
  d('container_processes', 'GAUGE', 'Number of processes running inside the container.'),
  d('container_threads', 'GAUGE', 'Number of threads running inside the container.'),
  d('container_threads_max', 'GAUGE', 'Maximum number of threads allowed inside the container, infinity if value is zero.'),
  d('container_file_descriptors', 'GAUGE', 'Number of open file descriptors for the container.'),
  d('container_sockets', 'GAUGE', 'Number of open sockets for the container.'),
  d('container_ulimits_soft', 'GAUGE', 'Soft ulimit values for the container root process. Unlimited if -1, except priority and nice.', [...BASE_LABELS, 'ulimit']),
  // misc and spec
  d('container_last_seen', 'GAUGE', 'Last time a container was seen by the exporter.'),
  d('container_start_time_seconds', 'GAUGE', 'Start time of the container since unix epoch in seconds.'),
  d('container_spec_cpu_period', 'GAUGE', 'CPU period of the container.'),
  d('container_spec_cpu_quota', 'GAUGE', 'CPU quota of the container.'),
  d('container_spec_cpu_shares', 'GAUGE', 'CPU share of the container.'),
  d('container_spec_memory_limit_bytes', 'GAUGE', 'Memory limit for the container.'),
  d('container_spec_memory_swap_limit_bytes', 'GAUGE', 'Memory swap limit for the container.'),
  d('container_spec_memory_reservation_limit_bytes', 'GAUGE', 'Memory reservation limit for the container.'),
  // network (pod level)
  d('container_network_receive_bytes_total', 'COUNTER', 'Cumulative count of bytes received.', NET),
  d('container_network_receive_packets_total', 'COUNTER', 'Cumulative count of packets received.', NET),
  d('container_network_receive_packets_dropped_total', 'COUNTER', 'Cumulative count of packets dropped while receiving.', NET),
  d('container_network_receive_errors_total', 'COUNTER', 'Cumulative count of errors encountered while receiving.', NET),
  d('container_network_transmit_bytes_total', 'COUNTER', 'Cumulative count of bytes transmitted.', NET),
  d('container_network_transmit_packets_total', 'COUNTER', 'Cumulative count of packets transmitted.', NET),
  d('container_network_transmit_packets_dropped_total', 'COUNTER', 'Cumulative count of packets dropped while transmitting.', NET),
  d('container_network_transmit_errors_total', 'COUNTER', 'Cumulative count of errors encountered while transmitting.', NET),
];

export const METRIC_DEF_BY_NAME: ReadonlyMap<string, MetricDef> = new Map(METRIC_DEFS.map((m) => [m.name, m]));

/** What ListMetricDescriptors returns. */
export const METRIC_DESCRIPTORS: cri.MetricDescriptor[] = METRIC_DEFS.map((m) => ({ name: m.name, help: m.help, label_keys: [...m.labelKeys] }));
