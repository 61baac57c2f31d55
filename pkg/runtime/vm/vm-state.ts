// A pod VM's saved state, one file per pod (<pod state>/vm.json), read back by a restarted daemon:
// where the VM lives (<pod state>/vm when it was booted for the pod, or the warm-pool slot's vm dir
// it was taken from), the size it booted with (resource updates are checked against it: a VM cannot
// grow) and how it started. The live parts (QEMU's and virtiofsd's pids, sockets) are in the VM dir,
// written by those processes themselves.
//
// Written crash-safely (atomic rename): the pod's recovery and the pool's start-up cleanup both read
// it, and a torn or missing file after a power loss would send the pod's recovery to <pod state>/vm
// and leave the real VM to the pool's cleanup.
//
// Pods started by an older daemon have no vm.json but a pointer file (<pod state>/vm-dir) and a
// size.json in the VM dir, or only QEMU's argv (-m, -smp): load() reads those; nothing writes them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../../store/atomic-file.js';
import { vmPaths } from '../../vm/micro-vm.js';
import type { VmSize } from './vm-size.js';

const FILE = 'vm.json';
const LEGACY_POINTER = 'vm-dir';
const LEGACY_SIZE = 'size.json';

export interface PodVmState {
  /** The VM's own dir (QEMU pidfile, console log, share, virtio-fs and agent sockets). */
  vmDir: string;
  /** The boot size; undefined only for a VM whose size nothing records (very old, QEMU gone). */
  size?: VmSize;
  /** 'boot', 'snapshot' or 'pool' (snapshot-start.ts, warm-pool.ts); for logs and Status. */
  startedFrom?: string;
}

export function savePodVmState(podStateDir: string, state: PodVmState): void {
  writeFileAtomicSync(join(podStateDir, FILE), JSON.stringify(state));
}

/** The pod's VM state; a pod that never saved one (or whose VM never started) gets <pod>/vm and no size. */
export function loadPodVmState(podStateDir: string): PodVmState {
  const saved = readJson(join(podStateDir, FILE));
  if (saved && typeof saved.vmDir === 'string' && saved.vmDir) {
    const size = validSize(saved.size) ?? sizeOfRunningVm(saved.vmDir);
    return { vmDir: saved.vmDir, ...(size ? { size } : {}), ...(typeof saved.startedFrom === 'string' ? { startedFrom: saved.startedFrom } : {}) };
  }
  const vmDir = legacyVmDir(podStateDir);
  const size = validSize(readJson(join(vmDir, LEGACY_SIZE))) ?? sizeOfRunningVm(vmDir);
  return { vmDir, ...(size ? { size } : {}) };
}

/** The pod's VM dir (loadPodVmState(...).vmDir without the size lookups). */
export function podVmDir(podStateDir: string): string {
  const saved = readJson(join(podStateDir, FILE));
  return saved && typeof saved.vmDir === 'string' && saved.vmDir ? saved.vmDir : legacyVmDir(podStateDir);
}

function legacyVmDir(podStateDir: string): string {
  try {
    return readFileSync(join(podStateDir, LEGACY_POINTER), 'utf8').trim() || join(podStateDir, 'vm');
  } catch {
    return join(podStateDir, 'vm'); // no pointer: the VM was booted for the pod (or never started)
  }
}

function readJson(path: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined; // absent or torn (not written atomically by an older daemon): the fallbacks decide
  }
}

function validSize(v: unknown): VmSize | undefined {
  const s = v as Partial<VmSize> | undefined;
  return s && Number.isInteger(s.vcpus) && Number.isInteger(s.memoryMib) ? { vcpus: s.vcpus!, memoryMib: s.memoryMib! } : undefined;
}

/** The size of the VM running from vmDir, from its QEMU's argv; undefined when none runs. */
function sizeOfRunningVm(vmDir: string): VmSize | undefined {
  try {
    const pid = Number(readFileSync(vmPaths(vmDir).pidFile, 'utf8').trim());
    return sizeFromQemuArgv(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'));
  } catch {
    return undefined; // no pidfile or no such process: the VM is gone
  }
}

/** -m <MiB> and -smp <n> of a QEMU command line (pkg/vm/qemu-args.ts writes both as plain numbers). */
export function sizeFromQemuArgv(argv: readonly string[]): VmSize | undefined {
  const after = (flag: string): number => Number(argv[argv.indexOf(flag) + 1] ?? NaN);
  const memoryMib = argv.includes('-m') ? after('-m') : NaN;
  const vcpus = argv.includes('-smp') ? after('-smp') : NaN;
  return Number.isInteger(memoryMib) && Number.isInteger(vcpus) ? { vcpus, memoryMib } : undefined;
}
