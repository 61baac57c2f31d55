// What a pod VM's host processes (QEMU, virtiofsd and the children they fork) cost the node, read
// from /proc of those processes, not from a cgroup: a warm-pool VM was booted outside the pod's
// cgroup, and cgroup v2 keeps memory charged where it was first touched (its boot's ~100+ MiB of
// guest RAM never moves to the pod). QEMU's usage already holds the guest's (guest RAM is QEMU's
// memory, vCPUs are QEMU threads), so this is the pod's total, guest containers included.
// Memory is PSS: virtiofsd maps the guest RAM memfd too (vhost-user), so RSS would count the pages
// both touched twice; PSS splits them (docs/microvm-pods.md: QEMU 373-403 MiB, virtiofsd 2-3 MiB).
import { readFileSync } from 'node:fs';

/** USER_HZ: /proc/<pid>/stat utime/stime are in 1/100 s on Linux (sysconf(_SC_CLK_TCK) = 100). */
const TICK_NS = 10_000_000n;

export interface VmmUsage {
  /** user + system CPU time of the processes, ns */
  cpuNs: bigint;
  /** proportional set size, bytes (VmRSS where smaps_rollup is unreadable) */
  memoryBytes: number;
  /** processes that were still there to read */
  processes: number;
}

export function vmmUsage(pids: readonly number[], procDir = '/proc'): VmmUsage {
  const u: VmmUsage = { cpuNs: 0n, memoryBytes: 0, processes: 0 };
  for (const pid of new Set(pids)) {
    if (!(pid > 0)) continue;
    let stat: string;
    try {
      stat = readFileSync(`${procDir}/${pid}/stat`, 'utf8');
    } catch {
      continue; // exited
    }
    // Fields after comm: state is [0], utime field 14 is [11], stime field 15 is [12].
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (f[0] === 'Z' || f[0] === 'X') continue;
    u.cpuNs += (BigInt(f[11] ?? '0') + BigInt(f[12] ?? '0')) * TICK_NS;
    u.memoryBytes += kib(`${procDir}/${pid}/smaps_rollup`, 'Pss') ?? kib(`${procDir}/${pid}/status`, 'VmRSS') ?? 0;
    u.processes++;
  }
  return u;
}

function kib(file: string, key: string): number | undefined {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(file, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
