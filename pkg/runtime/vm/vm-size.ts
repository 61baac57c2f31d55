// The size of a pod's VM (vCPUs, guest RAM) from the pod's limits, and whether a later resource update
// still fits the VM it booted with. QEMU microvm has no CPU or memory hot-plug (no ACPI hot-plug bus,
// no virtio-mem on virtio-mmio), so a VM keeps its boot size for life: an update that needs more is
// refused (VmTooSmallError, a SandboxTooSmallError → FailedPrecondition at the CRI edge), never silently ignored.
//
// Sizing (Kata's rule: default_memory + limits, vCPUs = ceil(quota/period)):
//   vCPUs   = the handler's vcpus when the pod sets no CPU limit; else ceil(quota/period), at least 1
//             and at most the host's CPUs (more vCPUs than host CPUs only adds contention under TCG).
//   memory  = the handler's memory_mib (the guest's own base: kernel, agent, tmpfs, page cache) plus
//             the pod's memory limit rounded up to MiB; no limit: memory_mib alone.
// The pod's limits are LinuxPodSandboxConfig.resources (kubelet sends the sum of its containers'
// limits there). The RuntimeClass overhead is not added to the guest: it is what the VMM costs the
// host (QEMU, virtiofsd, the guest base), which kubelet already adds to the pod cgroup itself.
import { availableParallelism } from 'node:os';
import { SandboxTooSmallError } from '../sandbox-too-small.js';

const MIB = 1 << 20;

/** A VM's boot size. */
export interface VmSize {
  vcpus: number;
  memoryMib: number;
}

/** CPU quota/period and memory limit; 0 or absent = not limited. */
export interface PodLimits {
  cpuQuota?: number;
  cpuPeriod?: number;
  memoryBytes?: number;
}

export interface SizingBase {
  /** vCPUs of a pod without a CPU limit (handler vcpus). */
  vcpus: number;
  /** Guest RAM before the pod's memory limit is added (handler memory_mib). */
  memoryMib: number;
  /** Upper bound for vCPUs (host CPUs). */
  hostCpus: number;
}

/** An update needs a bigger VM than the pod booted with (the VM cannot grow). */
export class VmTooSmallError extends SandboxTooSmallError {
  constructor(
    message: string,
    readonly have: VmSize,
    readonly need: VmSize,
  ) {
    super(message);
    this.name = 'VmTooSmallError';
  }
}

export function hostCpuCount(): number {
  return availableParallelism();
}

/** vCPUs for a CPU limit of quota/period (both > 0), clamped to [1, hostCpus]. */
export function vcpusForQuota(quota: number, period: number, hostCpus: number): number {
  return Math.min(Math.max(1, Math.ceil(quota / period)), Math.max(1, hostCpus));
}

/** The VM a pod with these limits boots. */
export function podVmSize(l: PodLimits, base: SizingBase): VmSize {
  const limitedCpu = (l.cpuQuota ?? 0) > 0 && (l.cpuPeriod ?? 0) > 0;
  const vcpus = limitedCpu ? vcpusForQuota(l.cpuQuota!, l.cpuPeriod!, base.hostCpus) : base.vcpus;
  const mem = l.memoryBytes ?? 0;
  return { vcpus, memoryMib: base.memoryMib + (mem > 0 ? Math.ceil(mem / MIB) : 0) };
}

/**
 * The limits of several containers together (a pod's): CPU as cores (quota/period summed, expressed
 * with a 100 ms period), memory summed. A dimension one container leaves unlimited is unlimited for
 * the pod (as kubelet's pod cgroup: no memory limit unless every container has one).
 */
export function sumLimits(list: readonly PodLimits[]): PodLimits {
  const PERIOD = 100_000;
  let cores = 0;
  let mem = 0;
  for (const l of list) cores += coresOf(l);
  for (const l of list) mem += memOf(l);
  return { ...(Number.isFinite(cores) && list.length ? { cpuQuota: Math.round(cores * PERIOD), cpuPeriod: PERIOD } : {}), ...(Number.isFinite(mem) && list.length ? { memoryBytes: mem } : {}) };
}

/** CPU limit in cores; Infinity when unlimited. */
function coresOf(l: PodLimits): number {
  return (l.cpuQuota ?? 0) > 0 && (l.cpuPeriod ?? 0) > 0 ? l.cpuQuota! / l.cpuPeriod! : Infinity;
}

/** Memory limit in bytes; Infinity when unlimited. */
function memOf(l: PodLimits): number {
  return (l.memoryBytes ?? 0) > 0 ? l.memoryBytes! : Infinity;
}

/**
 * Throws VmTooSmallError when limits need more vCPUs or memory than a VM of size have offers. A
 * dimension is checked only when the update grows it against before (the limits the pod has now;
 * unlimited counts as unbounded): an update that asks for no more than today never needs a bigger
 * VM, e.g. a first limit on a container of a pod without limits only narrows what it may use of the
 * VM, and so does a limit in a pod whose containers were given limits beyond its boot size.
 */
export function checkFits(what: string, l: PodLimits, have: VmSize, base: SizingBase, before: PodLimits = {}): void {
  const need = podVmSize(l, base);
  const needCpu = coresOf(l) > coresOf(before) ? need.vcpus : 0;
  const needMem = memOf(l) > memOf(before) ? need.memoryMib : 0;
  const short: string[] = [];
  if (needCpu > have.vcpus) short.push(`${needCpu} vCPUs (CPU limit ${fmtCores(l)} cores) but the VM has ${have.vcpus}`);
  if (needMem > have.memoryMib) {
    short.push(`${needMem} MiB of guest memory (${base.memoryMib} MiB guest base + ${needMem - base.memoryMib} MiB of memory limits) but the VM has ${have.memoryMib} MiB`);
  }
  if (short.length) {
    throw new VmTooSmallError(`${what} needs ${short.join(', and ')}: a micro-VM pod keeps the size it booted with (no CPU or memory hot-plug); recreate the pod to grow it`, have, need);
  }
}

/** Whether a VM of size have serves a pod that needs need (a pooled VM may be bigger than needed). */
export function sizeFits(need: VmSize, have: VmSize): boolean {
  return need.vcpus <= have.vcpus && need.memoryMib <= have.memoryMib;
}

function fmtCores(l: PodLimits): string {
  return String(Math.round(((l.cpuQuota ?? 0) / (l.cpuPeriod || 1)) * 1000) / 1000);
}

/** CRI LinuxContainerResources (int64 as decimal strings) as limits. */
export function limitsFromCri(r: { cpu_quota?: string | number; cpu_period?: string | number; memory_limit_in_bytes?: string | number } | null | undefined): PodLimits {
  return {
    cpuQuota: Number(r?.cpu_quota ?? 0) || 0,
    cpuPeriod: Number(r?.cpu_period ?? 0) || 0,
    memoryBytes: Number(r?.memory_limit_in_bytes ?? 0) || 0,
  };
}

/** OCI LinuxResources as limits. */
export function limitsFromOci(r: { cpu?: { quota?: number; period?: number }; memory?: { limit?: number } } | undefined): PodLimits {
  return { cpuQuota: r?.cpu?.quota ?? 0, cpuPeriod: r?.cpu?.period ?? 0, memoryBytes: r?.memory?.limit ?? 0 };
}
