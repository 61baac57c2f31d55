import { describe, expect, it } from 'vitest';
import { resolvConfText } from './pod-files.js';
import { CpuRateTracker } from '../stats/stats-service.js';

describe('resolvConfText', () => {
  it('renders search, nameservers and options', () => {
    expect(resolvConfText({ servers: ['10.0.0.10'], searches: ['a.svc', 'svc'], options: ['ndots:5'] })).toBe('search a.svc svc\nnameserver 10.0.0.10\noptions ndots:5\n');
  });
});

describe('CpuRateTracker', () => {
  it('derives nano cores from consecutive samples', () => {
    const t = new CpuRateTracker();
    expect(t.nanoCores('x', { timestampNs: 1_000_000_000n, cpu: { usageNs: 0n } })).toBeUndefined();
    expect(t.nanoCores('x', { timestampNs: 2_000_000_000n, cpu: { usageNs: 500_000_000n } })).toBe(500_000_000n);
  });
});
