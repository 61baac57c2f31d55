// Whether a pod's VM fits in the pod cgroup kubelet made for it. The VM is QEMU + virtiofsd on the
// host: its guest RAM (handler memory_mib + the pod's memory limit, vm-size.ts) plus what the VMM
// itself uses. kubelet limits the pod cgroup to the containers' limits + the RuntimeClass
// overhead.podFixed.memory; without enough overhead the VM is OOM-killed by the host as the guest
// touches its RAM, and kubelet retries the pod forever. Refused up front instead, as a
// failed-precondition naming the figures (the request is valid; the RuntimeClass must change).
//
// The limit is read from the cgroup (pkg/cgroups/memory-limit.ts), never derived from the CRI
// request: kubelet sets a pod-level limit only when every container declares one, while
// LinuxPodSandboxConfig.resources sums the declared ones. No limit, no check.
import { BulkheadError } from '../../errors/errors.js';
import type { VmSize } from './vm-size.js';

const MIB = 1 << 20;

/**
 * What QEMU (TCG's translation cache aside) and virtiofsd use on the host beyond guest RAM, in MiB.
 * Measured 2026-12-05 (QEMU 7.2, TCG, -m 456, tb-size 64, C virtiofsd, memfd guest RAM) in the pod
 * cgroup (v1 memory.stat) after the guest had touched 190 MiB in a container: anon 89.1 MiB (QEMU:
 * the 64 MiB translation buffer, heap, device state, thread stacks), shmem 336.6 MiB = the guest
 * RAM pages touched (memfd; virtiofsd maps the same pages, charged once). So 25 MiB of anon besides
 * the translation cache; + QEMU's and virtiofsd's binaries and libraries (QEMU 13 + capstone 3 + libc
 * etc. ~20 MiB file pages, charged to the first cgroup that reads them), two virtiofsd processes
 * (~4 MiB private), page tables and kernel stacks: 48 MiB leaves ~20% headroom over the ~40 MiB seen.
 */
export const VMM_OVERHEAD_MIB = 48;
/** QEMU's TCG translation cache when tb-size is not set: 1 GiB on 64-bit hosts (QEMU ≥ 5.0); touched as guest code is translated. */
export const QEMU_DEFAULT_TB_MIB = 1024;

/** What the VMM needs beyond guest RAM: VMM_OVERHEAD_MIB, + the translation cache under TCG (tcg_tb_size_mib; 0 = QEMU's default). */
export function vmmOverheadMib(accel: 'kvm' | 'tcg', tcgTbSizeMib: number): number {
  return VMM_OVERHEAD_MIB + (accel === 'tcg' ? tcgTbSizeMib || QEMU_DEFAULT_TB_MIB : 0);
}

/** A pod cgroup whose memory limit cannot hold the pod's VM. */
export class PodCgroupTooSmallError extends BulkheadError {
  constructor(
    message: string,
    readonly limitBytes: number,
    readonly needBytes: number,
    readonly minOverheadBytes: number,
  ) {
    super('failed-precondition', message);
    this.name = 'PodCgroupTooSmallError';
  }
}

export interface PodCgroupFit {
  handler: string;
  /** The pod cgroup (for the message). */
  cgroup: string;
  /** Its memory limit in bytes; undefined = none. */
  limitBytes: number | undefined;
  /** The VM the pod would run in (its guest RAM). */
  size: VmSize;
  /** VMM overhead beyond guest RAM (vmmOverheadMib). */
  vmmMib: number;
  /** LinuxPodSandboxConfig.overhead.memory_limit_in_bytes: the RuntimeClass overhead kubelet added (0 = none). */
  criOverheadBytes: number;
  /** LinuxPodSandboxConfig.resources.memory_limit_in_bytes: the containers' declared limits summed (0 = none or not sent). */
  criLimitsBytes?: number;
}

/** Bytes the VM needs in its cgroup: guest RAM + VMM overhead. */
export const vmNeedBytes = (size: VmSize, vmmMib: number) => (size.memoryMib + vmmMib) * MIB;

/** Whether the VM fits the pod cgroup's limit (always when there is none). */
export function fitsPodCgroup(f: Pick<PodCgroupFit, 'limitBytes' | 'size' | 'vmmMib'>): boolean {
  return f.limitBytes === undefined || vmNeedBytes(f.size, f.vmmMib) <= f.limitBytes;
}

/** Throws PodCgroupTooSmallError when the pod cgroup's memory limit is below what its VM needs. */
export function checkPodCgroupFits(f: PodCgroupFit): void {
  if (fitsPodCgroup(f)) return;
  const limit = f.limitBytes!;
  const need = vmNeedBytes(f.size, f.vmmMib);
  // kubelet's limit is the containers' limits + the overhead: the overhead must cover the rest. The
  // containers' share is what the CRI request summed (every container declares one, or the cgroup
  // would have no limit), else the limit less the overhead it reported.
  const containers = f.criLimitsBytes || Math.max(0, limit - f.criOverheadBytes);
  const minOverhead = need - containers;
  throw new PodCgroupTooSmallError(
    `runtime handler "${f.handler}": the pod cgroup ${f.cgroup} has a memory limit of ${fmtMib(limit)} ` +
      `(containers' limits ${fmtMib(containers)}, RuntimeClass overhead ${fmtMib(f.criOverheadBytes)} per the CRI request), but the pod's micro-VM needs ${fmtMib(need)} ` +
      `(${f.size.memoryMib} MiB guest RAM + ${f.vmmMib} MiB for QEMU and virtiofsd) and would be OOM-killed; ` +
      `set the RuntimeClass overhead.podFixed.memory to at least ${Math.ceil(minOverhead / MIB)}Mi`,
    limit,
    need,
    minOverhead,
  );
}

function fmtMib(bytes: number): string {
  const mib = bytes / MIB;
  return `${Number.isInteger(mib) ? mib : mib.toFixed(1)} MiB`;
}
