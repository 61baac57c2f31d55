// CgroupResources → systemd unit properties (the D-Bus "a(sv)" of StartTransientUnit and
// SetUnitProperties). The values follow runc's systemd managers, so a slice we size reads the
// same in cgroupfs as one runc sized.
import { isV2, type CgroupMode } from './detect.js';
import { sharesToWeight, type CgroupResources } from './pod-cgroup.js';

/** One unit property: its name, its D-Bus signature and a value of that type ("t" is a bigint). */
export type UnitProperty =
  | { name: string; signature: 's'; value: string }
  | { name: string; signature: 'b'; value: boolean }
  | { name: string; signature: 't'; value: bigint }
  | { name: string; signature: 'ay'; value: Buffer }
  | { name: string; signature: 'au'; value: number[] };

const str = (name: string, value: string): UnitProperty => ({ name, signature: 's', value });
const bool = (name: string, value: boolean): UnitProperty => ({ name, signature: 'b', value });
const u64 = (name: string, value: number | bigint): UnitProperty => ({ name, signature: 't', value: BigInt(value) });

/** systemd's "infinity" for uint64 properties. */
export const INFINITY = 2n ** 64n - 1n;
/** The kernel's and systemd's default CFS period (µs). */
const DEFAULT_PERIOD_US = 100_000;

/**
 * CPUQuotaPerSecUSec for a CFS quota/period pair. systemd keeps the quota as a whole percentage
 * of one CPU (10 000 µs per second), so like runc we round up to the next 10 000 µs: rounded
 * down, a container asking for 0.155 CPU would be throttled at 0.15 by its parent.
 */
export function cpuQuotaPerSecUSec(quotaUs: number, periodUs = DEFAULT_PERIOD_US): bigint {
  if (quotaUs < 0) return INFINITY;
  let perSec = Math.ceil((quotaUs * 1_000_000) / periodUs);
  if (perSec % 10_000 !== 0) perSec = (Math.floor(perSec / 10_000) + 1) * 10_000;
  return BigInt(perSec);
}

/** "0-2,4" → the bitmask systemd's AllowedCPUs/AllowedMemoryNodes take (byte i bit j = cpu 8i+j). */
export function cpusetMask(list: string): Buffer {
  const bits: number[] = [];
  for (const part of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new RangeError(`invalid cpuset ${JSON.stringify(list)}`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    // 8192 CPUs: the kernel's largest NR_CPUS; a larger number is a typo, not a machine.
    if (hi < lo || hi >= 8192) throw new RangeError(`invalid cpuset ${JSON.stringify(list)}`);
    for (let i = lo; i <= hi; i++) bits.push(i);
  }
  const out = Buffer.alloc(bits.length ? Math.floor(Math.max(...bits) / 8) + 1 : 0);
  for (const b of bits) out[b >> 3]! |= 1 << (b & 7);
  return out;
}

/**
 * The accounting switches that make systemd enable the controllers for the unit (without them a
 * slice has no memory.max to set), then the resource limits. v1 uses the legacy names
 * (MemoryLimit, CPUShares); systemd has no cpuset for v1, so those are left to cgroupfs writes.
 */
export function resourceProperties(r: CgroupResources, mode: CgroupMode): UnitProperty[] {
  const v2 = isV2(mode);
  const out: UnitProperty[] = [bool('MemoryAccounting', true), bool('CPUAccounting', true), bool('TasksAccounting', true)];
  out.push(bool(v2 ? 'IOAccounting' : 'BlockIOAccounting', true));
  if (r.memoryLimit !== undefined) out.push(u64(v2 ? 'MemoryMax' : 'MemoryLimit', r.memoryLimit));
  if (r.cpuShares !== undefined) out.push(v2 ? u64('CPUWeight', sharesToWeight(r.cpuShares)) : u64('CPUShares', r.cpuShares));
  if (r.cpuPeriod !== undefined) out.push(u64('CPUQuotaPeriodUSec', r.cpuPeriod));
  if (r.cpuQuota !== undefined) out.push(u64('CPUQuotaPerSecUSec', cpuQuotaPerSecUSec(r.cpuQuota, r.cpuPeriod)));
  if (v2 && r.cpusetCpus) out.push({ name: 'AllowedCPUs', signature: 'ay', value: cpusetMask(r.cpusetCpus) });
  if (v2 && r.cpusetMems) out.push({ name: 'AllowedMemoryNodes', signature: 'ay', value: cpusetMask(r.cpusetMems) });
  return out;
}

/** Properties of a new slice unit. */
export function sliceProperties(description: string, r: CgroupResources, mode: CgroupMode): UnitProperty[] {
  return [str('Description', description), ...resourceProperties(r, mode)];
}

/**
 * Properties of a scope adopting running processes (conmon, QEMU, virtiofsd) into a slice.
 * DefaultDependencies=false: the scope must not be stopped with shutdown.target ordering games
 * before the pod is; Delegate=true: systemd leaves the subtree to its processes (as for runc's).
 */
export function scopeProperties(description: string, slice: string, pids: number[]): UnitProperty[] {
  return [
    str('Description', description),
    str('Slice', slice),
    { name: 'PIDs', signature: 'au', value: pids },
    bool('Delegate', true),
    bool('DefaultDependencies', false),
    bool('MemoryAccounting', true),
    bool('CPUAccounting', true),
    bool('TasksAccounting', true),
  ];
}
