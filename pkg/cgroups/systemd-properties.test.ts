// Resource → unit property conversion, checked against the numbers runc's systemd manager produces.
import { describe, expect, it } from 'vitest';
import { cpuQuotaPerSecUSec, cpusetMask, INFINITY, resourceProperties, scopeProperties } from './systemd-properties.js';

const byName = (ps: { name: string; value: unknown }[]) => Object.fromEntries(ps.map((p) => [p.name, p.value]));

describe('cpuQuotaPerSecUSec', () => {
  it('converts quota/period to µs per second, rounded up to whole percents', () => {
    expect(cpuQuotaPerSecUSec(50_000, 100_000)).toBe(500_000n);
    expect(cpuQuotaPerSecUSec(200_000, 100_000)).toBe(2_000_000n);
    // 0.155 CPU → 0.16 (not 0.15: the container would be throttled below its request)
    expect(cpuQuotaPerSecUSec(15_500, 100_000)).toBe(160_000n);
    expect(cpuQuotaPerSecUSec(25_000, 50_000)).toBe(500_000n);
    expect(cpuQuotaPerSecUSec(50_000)).toBe(500_000n);
    expect(cpuQuotaPerSecUSec(-1)).toBe(INFINITY);
  });
});

describe('cpusetMask', () => {
  it('sets one bit per CPU, little-endian bytes', () => {
    expect([...cpusetMask('0-2,9')]).toEqual([0x07, 0x02]);
    expect([...cpusetMask('0')]).toEqual([0x01]);
    expect([...cpusetMask('')]).toEqual([]);
    expect(() => cpusetMask('2-1')).toThrow(RangeError);
    expect(() => cpusetMask('x')).toThrow(RangeError);
  });
});

describe('resourceProperties', () => {
  const r = { memoryLimit: 64 * 2 ** 20, cpuShares: 512, cpuQuota: 50_000, cpuPeriod: 100_000, cpusetCpus: '0-1' };

  it('v2: MemoryMax, CPUWeight, quota, AllowedCPUs, with accounting on', () => {
    const p = byName(resourceProperties(r, 'v2'));
    expect(p).toMatchObject({ MemoryAccounting: true, CPUAccounting: true, TasksAccounting: true, IOAccounting: true });
    expect(p.MemoryMax).toBe(67_108_864n);
    // runc: shares 512 → weight 1 + (510 * 9999) / 262142 = 20
    expect(p.CPUWeight).toBe(20n);
    expect(p.CPUQuotaPeriodUSec).toBe(100_000n);
    expect(p.CPUQuotaPerSecUSec).toBe(500_000n);
    expect([...(p.AllowedCPUs as Buffer)]).toEqual([0x03]);
    expect(p.MemoryLimit).toBeUndefined();
  });

  it('v1 and hybrid: the legacy names, no cpuset (left to cgroupfs)', () => {
    for (const mode of ['v1', 'hybrid'] as const) {
      const p = byName(resourceProperties(r, mode));
      expect(p.MemoryLimit).toBe(67_108_864n);
      expect(p.CPUShares).toBe(512n);
      expect(p.BlockIOAccounting).toBe(true);
      expect(p.MemoryMax).toBeUndefined();
      expect(p.AllowedCPUs).toBeUndefined();
    }
  });

  it('no resources: only the accounting switches', () => {
    expect(resourceProperties({}, 'v2').every((p) => p.signature === 'b')).toBe(true);
  });

  it('scopes adopt pids into the slice with delegation', () => {
    const p = byName(scopeProperties('x', 'kubepods-pod1.slice', [42]));
    expect(p).toMatchObject({ Slice: 'kubepods-pod1.slice', PIDs: [42], Delegate: true, DefaultDependencies: false });
  });
});
