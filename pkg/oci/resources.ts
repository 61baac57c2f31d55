// CRI LinuxContainerResources → OCI linux.resources (cpu, cpuset, memory, hugepages, unified)
// and the process's oom_score_adj clamped to what this host lets us set. The one converter for
// both CreateContainer (the spec) and UpdateContainerResources (runc update, the guest agent), as
// containerd uses its WithResources for both: one request must not mean two cgroup settings.
import type * as cri from '../api/cri-types.js';
import { availableControllers, detectCgroupMode, isV2 } from '../cgroups/detect.js';
import { invalidArgument } from '../errors/errors.js';
import { criInt } from '../validation/int64.js';
import type { OciResources } from './spec-types.js';

/** What the host's cgroups can take. */
export interface ResourceSupport {
  cgroupV2: boolean;
  /** false: hugepage limits are dropped (runc fails the container without a hugetlb controller). */
  hugetlb?: boolean;
}

export function hostResourceSupport(): ResourceSupport {
  return { cgroupV2: isV2(detectCgroupMode()), hugetlb: availableControllers().has('hugetlb') };
}

/** Fields the OCI spec types as unsigned: a negative value would only fail later inside runc (INTERNAL). */
function unsigned(s: string | undefined, field: string): number {
  const n = criInt(s, `resources.${field}`);
  if (n < 0) throw invalidArgument(`resources.${field} must not be negative (${s})`);
  return n;
}

export function resourcesFromCri(res: cri.LinuxContainerResources__Output | null | undefined, opts: ResourceSupport): OciResources {
  const out: OciResources = {};
  if (!res) return out;
  const shares = unsigned(res.cpu_shares, 'cpu_shares');
  const quota = criInt(res.cpu_quota, 'resources.cpu_quota'); // -1: no limit
  const period = unsigned(res.cpu_period, 'cpu_period');
  const cpu: NonNullable<OciResources['cpu']> = {};
  if (shares > 0) cpu.shares = shares;
  if (quota !== 0) cpu.quota = quota;
  if (period > 0) cpu.period = period;
  if (res.cpuset_cpus) cpu.cpus = res.cpuset_cpus;
  if (res.cpuset_mems) cpu.mems = res.cpuset_mems;
  if (Object.keys(cpu).length > 0) out.cpu = cpu;

  const limit = unsigned(res.memory_limit_in_bytes, 'memory_limit_in_bytes');
  const swap = criInt(res.memory_swap_limit_in_bytes, 'resources.memory_swap_limit_in_bytes'); // -1: unlimited
  if (limit > 0) {
    // memory+swap equal to the limit = no swap, which is what kubelet expects unless it says otherwise.
    out.memory = { limit, swap: swap !== 0 ? swap : limit };
  } else if (swap !== 0) {
    out.memory = { swap };
  }

  const hugepages = (res.hugepage_limits ?? []).filter((h) => h.page_size !== '');
  const hugepageLimits = hugepages.map((h) => ({ pageSize: h.page_size, limit: unsigned(h.limit, `hugepage_limits[${h.page_size}]`) }));
  if (hugepageLimits.length > 0 && opts.hugetlb !== false) out.hugepageLimits = hugepageLimits;

  // runc refuses "unified" on cgroup v1; kubelet only sends it (memory QoS) on v2 nodes.
  if (opts.cgroupV2 && res.unified && Object.keys(res.unified).length > 0) out.unified = { ...res.unified };
  return out;
}

/** CRI oom_score_adj, raised to the host minimum (we can't lower below our own without CAP_SYS_RESOURCE). */
export function clampOomScoreAdj(value: string | undefined, hostMin: number): number {
  const v = criInt(value, 'oom_score_adj');
  return Math.min(1000, Math.max(v, hostMin, -1000));
}
