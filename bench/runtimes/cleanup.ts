// Leftover removal after a runtime stops: processes it started (found by a marker in their
// command line, then their whole tree), mounts under its dirs, and its dirs — never anything
// outside what this bench created.
import { readFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { descendants, listProcesses } from '../proc.js';

export function mountsUnder(dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : dir + '/';
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const decoded = mp.replace(/\\(\d{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (decoded === dir || decoded.startsWith(prefix)) out.push(decoded);
  }
  return out;
}

/** Lazily unmounts everything under dir, deepest first; returns what could not be unmounted. */
export function unmountUnder(dir: string): string[] {
  for (let round = 0; round < 3; round++) {
    const mounts = mountsUnder(dir).sort((a, b) => b.length - a.length);
    if (!mounts.length) return [];
    for (const m of mounts) {
      try {
        execFileSync('umount', ['-l', m], { stdio: 'ignore' });
      } catch {
        /* retried next round; reported at the end */
      }
    }
  }
  return mountsUnder(dir);
}

/** SIGKILLs every process whose command line contains marker, with all their descendants. */
export function killTreesMatching(marker: string, exceptPid = process.pid): number {
  const procs = listProcesses();
  const roots = procs.filter((p) => p.pid !== exceptPid && p.cmdline.includes(marker)).map((p) => p.pid);
  const victims = descendants(roots, procs);
  for (const p of victims) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  return victims.length;
}

/** Removes dir unless a mount is still below it (rm -r through a bind mount would hit host files). */
export function removeDir(dir: string): boolean {
  const left = unmountUnder(dir);
  if (left.length) {
    process.stderr.write(`bench: keeping ${dir}: still mounted: ${left.join(', ')}\n`);
    return false;
  }
  rmSync(dir, { recursive: true, force: true });
  return true;
}
