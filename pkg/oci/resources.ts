// CRI LinuxContainerResources → OCI linux.resources (cpu, cpuset, memory, hugepages, unified)
// and the process's oom_score_adj clamped to what this host lets us set.
import type * as cri from '../api/cri-types.js';
import { invalidArgument } from '../grpc/errors.js';
import { criInt } from '../grpc/int64.js';
import type { OciResources } from './spec-types.js';

export function resourcesFromCri(res: cri.LinuxContainerResources__Output | null | undefined, opts: { cgroupV2: boolean; hugetlb?: boolean }): OciResources {
  const out: OciResources = {};
  if (!res) return out;
  const shares = criInt(res.cpu_shares, 'cpu_shares');
  const quota = criInt(res.cpu_quota, 'cpu_quota');
  const period = criInt(res.cpu_period, 'cpu_period');
  if (shares < 0 || period < 0) throw invalidArgument('cpu_shares and cpu_period must not be negative');
  const cpu: NonNullable<OciResources['cpu']> = {};
  if (shares > 0) cpu.shares = shares;
  if (quota !== 0) cpu.quota = quota;
  if (period > 0) cpu.period = period;
  if (res.cpuset_cpus) cpu.cpus = res.cpuset_cpus;
  if (res.cpuset_mems) cpu.mems = res.cpuset_mems;
  if (Object.keys(cpu).length > 0) out.cpu = cpu;

  const limit = criInt(res.memory_limit_in_bytes, 'memory_limit_in_bytes');
  const swap = criInt(res.memory_swap_limit_in_bytes, 'memory_swap_limit_in_bytes');
  if (limit < 0) throw invalidArgument('memory_limit_in_bytes must not be negative');
  if (limit > 0) {
    // memory+swap equal to the limit = no swap, which is what kubelet expects unless it says otherwise.
    out.memory = { limit, swap: swap !== 0 ? swap : limit };
  } else if (swap !== 0) {
    out.memory = { swap };
  }

  const hugepages = (res.hugepage_limits ?? []).filter((h) => h.page_size !== '');
  if (hugepages.length > 0 && opts.hugetlb !== false) out.hugepageLimits = hugepages.map((h) => ({ pageSize: h.page_size, limit: criInt(h.limit, 'hugepage limit') }));

  // runc refuses "unified" on cgroup v1; kubelet only sends it (memory QoS) on v2 nodes.
  if (opts.cgroupV2 && res.unified && Object.keys(res.unified).length > 0) out.unified = { ...res.unified };
  return out;
}

/** CRI oom_score_adj, raised to the host minimum (we can't lower below our own without CAP_SYS_RESOURCE). */
export function clampOomScoreAdj(value: string | undefined, hostMin: number): number {
  const v = criInt(value, 'oom_score_adj');
  return Math.min(1000, Math.max(v, hostMin, -1000));
}
