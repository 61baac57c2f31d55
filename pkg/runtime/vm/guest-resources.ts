// Translation between the host's resource and stats types and the agent protocol's: a guest
// container's stats as the host's CgroupStats, OCI resources as the agent's LinuxResources.
import type { CgroupStats } from '../../cgroups/stats.js';
import type { OciResources } from '../../oci/spec-types.js';
import type { RequestOf, ResponseOf } from '../../vmchannel/protocol.js';

type GuestStats = ResponseOf<'stats'>['stats'][number];
type GuestResources = NonNullable<RequestOf<'update_resources'>['resources']>;

/** The agent reads cgroup v2 in the guest: what it does not report (cache, faults, limit hits) is 0. */
export function cgroupStatsOf(st: GuestStats): CgroupStats {
  return {
    timestampNs: BigInt(st.timestamp_ns),
    cpu: { usageNs: BigInt(st.cpu_usage_ns) },
    memory: {
      usageBytes: Number(st.memory_usage_bytes),
      workingSetBytes: Number(st.memory_working_set_bytes),
      rssBytes: Number(st.memory_rss_bytes),
      cacheBytes: 0,
      pageFaults: 0,
      majorPageFaults: 0,
      oomKills: Number(st.oom_kills),
      limitHits: 0,
    },
    pids: { current: Number(st.pids) },
    ...(Object.keys(st.cgroup_files ?? {}).length ? { guestFiles: st.cgroup_files } : {}),
  };
}

/**
 * int64 fields travel as decimal strings; 0 / "" = not set (the agent leaves that knob alone). The
 * cpuset is never sent: host CPU numbers mean nothing in the guest; they pin the VM's vCPU threads
 * on the host instead (vcpu-pinning.ts).
 */
export function guestResources(r: OciResources): GuestResources {
  return {
    cpu_period: String(r.cpu?.period ?? 0),
    cpu_quota: String(r.cpu?.quota ?? 0),
    cpu_shares: String(r.cpu?.shares ?? 0),
    memory_limit_bytes: String(r.memory?.limit ?? 0),
    cpuset_cpus: '',
  };
}
