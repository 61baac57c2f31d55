// A VM's boot size, kept in its VM dir (size.json) so resource updates can be checked against it after
// a daemon restart and after a warm-pool hand-over (the pod's VM dir is then the pool slot's).
// VMs booted before the record existed: the size is read back from QEMU's own argv (-m, -smp).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../../store/atomic-file.js';
import { vmPaths } from '../../vm/micro-vm.js';
import type { VmSize } from './vm-size.js';

const FILE = 'size.json';

export function writeVmSize(vmDir: string, size: VmSize): void {
  writeFileAtomicSync(join(vmDir, FILE), JSON.stringify(size));
}

/** The VM's boot size; undefined when neither the record nor its QEMU's argv tells. */
export function readVmSize(vmDir: string): VmSize | undefined {
  try {
    const s = JSON.parse(readFileSync(join(vmDir, FILE), 'utf8')) as Partial<VmSize>;
    if (Number.isInteger(s.vcpus) && Number.isInteger(s.memoryMib)) return { vcpus: s.vcpus!, memoryMib: s.memoryMib! };
  } catch {
    /* no record: an older daemon booted it */
  }
  try {
    const pid = Number(readFileSync(vmPaths(vmDir).pidFile, 'utf8').trim());
    return sizeFromQemuArgv(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'));
  } catch {
    return undefined;
  }
}

/** -m <MiB> and -smp <n> of a QEMU command line (pkg/vm/qemu-args.ts writes both as plain numbers). */
export function sizeFromQemuArgv(argv: readonly string[]): VmSize | undefined {
  const after = (flag: string): number => Number(argv[argv.indexOf(flag) + 1] ?? NaN);
  const memoryMib = argv.includes('-m') ? after('-m') : NaN;
  const vcpus = argv.includes('-smp') ? after('-smp') : NaN;
  return Number.isInteger(memoryMib) && Number.isInteger(vcpus) ? { vcpus, memoryMib } : undefined;
}
