import { describe, expect, it } from 'vitest';
import { cgroupStatsOf, guestResources } from './guest-resources.js';

describe('guest resource translation', () => {
  it('reads the int64 strings of the agent stats', () => {
    const s = cgroupStatsOf({ container_id: 'c', timestamp_ns: '1700000000000000000', cpu_usage_ns: '12345678901234', memory_working_set_bytes: '4096', memory_usage_bytes: '8192', memory_rss_bytes: '2048', oom_kills: '1', pids: '3', cgroup_files: {} });
    expect(s.timestampNs).toBe(1700000000000000000n);
    expect(s.cpu?.usageNs).toBe(12345678901234n);
    expect(s.memory).toMatchObject({ usageBytes: 8192, workingSetBytes: 4096, rssBytes: 2048, oomKills: 1, cacheBytes: 0 });
    expect(s.pids?.current).toBe(3);
  });

  it('sends unset OCI knobs as 0 / empty, and never a host cpuset', () => {
    expect(guestResources({})).toEqual({ cpu_period: '0', cpu_quota: '0', cpu_shares: '0', memory_limit_bytes: '0', cpuset_cpus: '' });
    expect(guestResources({ cpu: { quota: 50000, period: 100000, cpus: '0-1' }, memory: { limit: 1 << 30 } })).toEqual({ cpu_period: '100000', cpu_quota: '50000', cpu_shares: '0', memory_limit_bytes: String(1 << 30), cpuset_cpus: '' });
  });
});
