// /proc/<pid>/stat for the CPU figures: state, parent and the four CPU counters (proc(5) fields
// 14-17: utime, stime, and cutime/cstime = the CPU of the children it has waited for, theirs
// included), in clock ticks. A zombie still shows its final counters until it is reaped.
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

export interface ProcStat {
  pid: number;
  comm: string;
  /** R, S, D, Z, … (proc(5) field 3). */
  state: string;
  ppid: number;
  /** utime + stime: the process's own CPU, all its threads. */
  selfTicks: number;
  /** cutime + cstime: its reaped descendants'. */
  childTicks: number;
}

/** Parses one stat line; undefined when it is not one. comm may hold spaces and ')'. */
export function parseStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  // Fields from 3 (state) on; utime is field 14, i.e. index 11 here.
  const f = text.slice(close + 2).trim().split(' ');
  if (f.length < 15) return undefined;
  const n = (i: number) => Number(f[i]);
  const out = { pid: Number(text.slice(0, open).trim()), comm: text.slice(open + 1, close), state: f[0]!, ppid: n(1), selfTicks: n(11) + n(12), childTicks: n(13) + n(14) };
  return Number.isFinite(out.selfTicks + out.childTicks + out.ppid + out.pid) ? out : undefined;
}

export function readStat(pid: number): ProcStat | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined; // gone (and reaped)
  }
}

/** The processes whose parent is ppid right now (zombies included). */
export function childrenOf(ppid: number): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s && s.ppid === ppid) out.push(s);
  }
  return out;
}

let tck: number | undefined;
/** Clock ticks per second (USER_HZ, 100 on Linux x86_64; asked once from getconf). */
export function clockTicks(): number {
  if (tck === undefined) {
    try {
      tck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      tck = 100; // USER_HZ is 100 on every mainstream Linux architecture
    }
  }
  return tck;
}
