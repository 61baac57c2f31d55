// Each pod VM's QEMU drops root once its devices, sockets and files are open, to a uid:gid of its
// own: a guest that breaks out into QEMU's device emulation lands in an unprivileged process
// (no capabilities, NoNewPrivs, QEMU's seccomp filter) that can't signal or ptrace the QEMU of
// another pod. No passwd entry is needed: QEMU takes numeric ids.
//
// The ids come from [VM_UID_BASE, VM_UID_BASE + 2^24), random per boot: two of 50 concurrent VMs
// share one with probability ~7e-5 (birthday bound 50²/2^25). The range sits far above login
// users (1000+) and the 65536-wide blocks container runtimes hand to user-namespaced pods start
// from; a host that allocates ids this high elsewhere must keep it free.
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';

export const VM_UID_BASE = 2_000_000_000;
const VM_UID_SPAN = 1 << 24;

/** How this QEMU switches user: -runas (up to 9.x) or -run-with user= (9.1+, -runas later removed). */
export type QemuDropOption = '-runas' | '-run-with';

export interface QemuRunAs {
  uid: number;
  gid: number;
  option: QemuDropOption;
}

const probed = new Map<string, QemuDropOption | undefined>();

/** Reads `qemu -h` once per binary; undefined when it offers neither option (QEMU then stays root). */
export function qemuDropOption(qemuPath: string): QemuDropOption | undefined {
  if (probed.has(qemuPath)) return probed.get(qemuPath);
  let found: QemuDropOption | undefined;
  try {
    const help = execFileSync(qemuPath, ['-h'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
    found = dropOptionFromHelp(help);
  } catch {
    found = undefined;
  }
  probed.set(qemuPath, found);
  return found;
}

export function dropOptionFromHelp(help: string): QemuDropOption | undefined {
  if (/^-run-with\b.*\buser=/m.test(help)) return '-run-with';
  if (/^-runas\b/m.test(help)) return '-runas';
  return undefined;
}

export function pickVmRunAs(option: QemuDropOption): QemuRunAs {
  const id = VM_UID_BASE + randomInt(VM_UID_SPAN);
  return { uid: id, gid: id, option };
}
