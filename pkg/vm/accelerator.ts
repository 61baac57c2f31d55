// Chooses the QEMU accelerator. KVM is used only when it can really run a stock Debian guest kernel:
// the CPU exposes VT-x/AMD-V (vmx/svm), /dev/kvm opens, and it is not PVM (pagetable-based VM, where
// a stock kernel traps on privileged instructions: see docs/microvm.md §0). Never assumed.
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';

export type Accel = 'kvm' | 'tcg';
export interface AccelChoice {
  accel: Accel;
  reason: string;
}

/** What detection looks at; injectable so the decision logic is testable without the hardware. */
export interface AccelProbe {
  cpuinfo(): string;
  kvmOpens(): boolean;
  isPvm(): boolean;
}

export const hostProbe: AccelProbe = {
  cpuinfo: () => readFileSync('/proc/cpuinfo', 'utf8'),
  kvmOpens: () => {
    try {
      closeSync(openSync('/dev/kvm', 'r+'));
      return true;
    } catch {
      return false;
    }
  },
  isPvm: () => existsSync('/sys/module/kvm_pvm'),
};

export function detectAccelerator(probe: AccelProbe = hostProbe): AccelChoice {
  const flags = new Set(/^flags\s*:(.*)$/m.exec(probe.cpuinfo())?.[1]?.trim().split(/\s+/) ?? []);
  if (probe.isPvm()) return { accel: 'tcg', reason: '/dev/kvm is PVM: stock kernels cannot boot' };
  if (!flags.has('vmx') && !flags.has('svm')) return { accel: 'tcg', reason: 'CPU has no vmx/svm flag (no hardware virtualization exposed)' };
  if (!probe.kvmOpens()) return { accel: 'tcg', reason: '/dev/kvm cannot be opened' };
  return { accel: 'kvm', reason: `hardware virtualization (${flags.has('vmx') ? 'vmx' : 'svm'}) and /dev/kvm available` };
}

/**
 * Applies the handler's `accelerator` setting. `kvm` on a PVM host is allowed only with a PVM-capable
 * guest kernel (kernel_path), since the stock one cannot boot there.
 */
export function chooseAccelerator(setting: 'auto' | 'kvm' | 'tcg', kernelPath: string | undefined, probe: AccelProbe = hostProbe): AccelChoice {
  if (setting === 'tcg') return { accel: 'tcg', reason: 'configured accelerator = tcg' };
  if (setting === 'auto') return detectAccelerator(probe);
  if (probe.isPvm()) {
    if (!kernelPath) throw new Error('accelerator = kvm but /dev/kvm is PVM: set kernel_path to a PVM-capable (CONFIG_PVM_GUEST) guest kernel');
    if (!probe.kvmOpens()) throw new Error('accelerator = kvm but /dev/kvm cannot be opened');
    return { accel: 'kvm', reason: `configured kvm on PVM with kernel ${kernelPath}` };
  }
  const d = detectAccelerator(probe);
  if (d.accel !== 'kvm') throw new Error(`accelerator = kvm but ${d.reason}`);
  return d;
}
