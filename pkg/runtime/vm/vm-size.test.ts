import { describe, expect, it } from 'vitest';
import { SandboxTooSmallError } from '../sandbox-too-small.js';
import { checkFits, limitsFromCri, limitsFromOci, podVmSize, sizeFits, sumLimits, vcpusForQuota, VmTooSmallError } from './vm-size.js';

const base = { vcpus: 1, memoryMib: 256, hostCpus: 4 };
const MiB = 1 << 20;

describe('pod VM sizing', () => {
  it('keeps the handler defaults for a pod without limits', () => {
    expect(podVmSize({}, base)).toEqual({ vcpus: 1, memoryMib: 256 });
    expect(podVmSize(limitsFromCri(null), base)).toEqual({ vcpus: 1, memoryMib: 256 });
    // kubelet sends -1 / 0 quota for "no limit"
    expect(podVmSize(limitsFromCri({ cpu_quota: '-1', cpu_period: '100000', memory_limit_in_bytes: '0' }), base)).toEqual({ vcpus: 1, memoryMib: 256 });
  });

  it('takes ceil(quota/period) vCPUs, at least 1 and at most the host CPUs', () => {
    expect(vcpusForQuota(200_000, 100_000, 4)).toBe(2);
    expect(vcpusForQuota(150_000, 100_000, 4)).toBe(2);
    expect(vcpusForQuota(10_000, 100_000, 4)).toBe(1);
    expect(vcpusForQuota(1_600_000, 100_000, 4)).toBe(4);
    expect(podVmSize({ cpuQuota: 250_000, cpuPeriod: 100_000 }, base).vcpus).toBe(3);
  });

  it('adds the memory limit (rounded up to MiB) to the handler base', () => {
    expect(podVmSize({ memoryBytes: 300 * MiB }, base).memoryMib).toBe(556);
    expect(podVmSize({ memoryBytes: 300 * MiB + 1 }, base).memoryMib).toBe(557);
    expect(podVmSize(limitsFromCri({ cpu_quota: '200000', cpu_period: '100000', memory_limit_in_bytes: String(300 * MiB) }), base)).toEqual({ vcpus: 2, memoryMib: 556 });
  });

  it('sums container limits as cores and bytes', () => {
    const s = sumLimits([{ cpuQuota: 50_000, cpuPeriod: 100_000, memoryBytes: 100 * MiB }, { cpuQuota: 25_000, cpuPeriod: 50_000, memoryBytes: 50 * MiB }]);
    expect(s).toEqual({ cpuQuota: 100_000, cpuPeriod: 100_000, memoryBytes: 150 * MiB });
    // one container without a memory limit: the pod has none either
    expect(sumLimits([{ cpuQuota: 50_000, cpuPeriod: 100_000, memoryBytes: 100 * MiB }, { cpuQuota: 50_000, cpuPeriod: 100_000 }])).toEqual({ cpuQuota: 100_000, cpuPeriod: 100_000 });
    expect(sumLimits([{}, {}])).toEqual({});
    expect(sumLimits([])).toEqual({});
    expect(limitsFromOci({ cpu: { quota: 1, period: 2 }, memory: { limit: 3 } })).toEqual({ cpuQuota: 1, cpuPeriod: 2, memoryBytes: 3 });
  });

  it('serves a pod from a VM at least its size', () => {
    expect(sizeFits({ vcpus: 1, memoryMib: 256 }, { vcpus: 2, memoryMib: 512 })).toBe(true);
    expect(sizeFits({ vcpus: 2, memoryMib: 556 }, { vcpus: 2, memoryMib: 512 })).toBe(false);
    expect(sizeFits({ vcpus: 3, memoryMib: 256 }, { vcpus: 2, memoryMib: 512 })).toBe(false);
  });
});

describe('updates against the boot size', () => {
  const have = { vcpus: 2, memoryMib: 556 };
  const now = { cpuQuota: 200_000, cpuPeriod: 100_000, memoryBytes: 300 * MiB };
  it('accepts what fits', () => {
    expect(() => checkFits('u', { cpuQuota: 200_000, cpuPeriod: 100_000, memoryBytes: 300 * MiB }, have, base)).not.toThrow();
    expect(() => checkFits('u', { memoryBytes: 100 * MiB }, have, base, now)).not.toThrow();
    expect(() => checkFits('u', { memoryBytes: 300 * MiB, cpuQuota: 150_000, cpuPeriod: 100_000 }, have, base, { memoryBytes: 200 * MiB, cpuQuota: 100_000, cpuPeriod: 100_000 })).not.toThrow();
    expect(() => checkFits('u', {}, have, base)).not.toThrow();
  });

  it('refuses more memory or CPUs than the VM has, saying both figures', () => {
    let err: unknown;
    try {
      checkFits('UpdateContainerResources of container c1', { memoryBytes: 400 * MiB }, have, base, now);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VmTooSmallError);
    expect(err).toBeInstanceOf(SandboxTooSmallError);
    expect((err as Error).message).toMatch(/container c1 needs 656 MiB of guest memory \(256 MiB guest base \+ 400 MiB of memory limits\) but the VM has 556 MiB.*recreate the pod/);
    expect(() => checkFits('u', { cpuQuota: 300_000, cpuPeriod: 100_000 }, have, base, now)).toThrow(/3 vCPUs \(CPU limit 3 cores\) but the VM has 2/);
  });

  it('never refuses an update that asks for no more than the pod has now', () => {
    // A pod booted without pod-level resources whose container already has 400 MiB.
    const small = { vcpus: 1, memoryMib: 256 };
    expect(() => checkFits('u', { memoryBytes: 300 * MiB }, small, base, { memoryBytes: 400 * MiB })).not.toThrow();
    expect(() => checkFits('u', { memoryBytes: 500 * MiB }, small, base, { memoryBytes: 400 * MiB })).toThrow(VmTooSmallError);
    // A first limit in a pod without limits narrows what it may use of the VM: no growth.
    expect(() => checkFits('u', { memoryBytes: 64 * MiB, cpuQuota: 400_000, cpuPeriod: 100_000 }, small, base, {})).not.toThrow();
    // Dropping a limit: the guest is bounded by the VM anyway.
    expect(() => checkFits('u', {}, small, base, { memoryBytes: 64 * MiB })).not.toThrow();
  });

  it('clamps the CPU need to the host CPUs, as at boot', () => {
    expect(() => checkFits('u', { cpuQuota: 800_000, cpuPeriod: 100_000 }, { vcpus: 4, memoryMib: 256 }, base, { cpuQuota: 100_000, cpuPeriod: 100_000 })).not.toThrow();
  });
});
