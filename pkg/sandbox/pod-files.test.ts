import { describe, expect, it } from 'vitest';
import { resolvConfText } from './pod-files.js';
import { ociResources } from '../container/oci-resources.js';
import { CpuRateTracker } from '../stats/stats-service.js';

describe('resolvConfText', () => {
  it('renders search, nameservers and options', () => {
    expect(resolvConfText({ servers: ['10.0.0.10'], searches: ['a.svc', 'svc'], options: ['ndots:5'] })).toBe('search a.svc svc\nnameserver 10.0.0.10\noptions ndots:5\n');
  });
});

describe('ociResources', () => {
  it('maps CRI resources to OCI LinuxResources, omitting zero values', () => {
    const r = ociResources({ cpu_period: '100000', cpu_quota: '50000', cpu_shares: '512', memory_limit_in_bytes: '104857600', oom_score_adj: '0', cpuset_cpus: '0', cpuset_mems: '', hugepage_limits: [], unified: {}, memory_swap_limit_in_bytes: '0' });
    expect(r).toEqual({ cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0' }, memory: { limit: 104857600 } });
  });
  it('refuses an int64 that JSON would round (runc could not parse it back): InvalidArgument', () => {
    const base = { cpu_period: '0', cpu_quota: '0', cpu_shares: '0', memory_limit_in_bytes: '0', oom_score_adj: '0', cpuset_cpus: '', cpuset_mems: '', hugepage_limits: [], unified: {}, memory_swap_limit_in_bytes: '0' };
    expect(() => ociResources({ ...base, memory_limit_in_bytes: '9223372036854775807' })).toThrow(/memory_limit_in_bytes/);
    expect(() => ociResources({ ...base, memory_limit_in_bytes: '9223372036854775807' })).toThrow(expect.objectContaining({ code: 3 }));
  });
});

describe('CpuRateTracker', () => {
  it('derives nano cores from consecutive samples', () => {
    const t = new CpuRateTracker();
    expect(t.nanoCores('x', { timestampNs: 1_000_000_000n, cpu: { usageNs: 0n } })).toBeUndefined();
    expect(t.nanoCores('x', { timestampNs: 2_000_000_000n, cpu: { usageNs: 500_000_000n } })).toBe(500_000_000n);
  });
});
