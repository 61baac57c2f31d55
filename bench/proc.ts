// /proc readers for the memory figures: process table with parent links, RSS of one process,
// PSS of a set (smaps_rollup: shared pages are split between the processes that map them, so
// summing PSS over a runtime's per-pod helpers does not double count shared libraries).
import { readFileSync, readdirSync } from 'node:fs';

export interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  cmdline: string;
}

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export function listProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readOr(`/proc/${name}/stat`);
    if (!stat) continue;
    // comm may contain spaces and parentheses: the fields after the last ')' are fixed.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    const cmdline = (readOr(`/proc/${name}/cmdline`) ?? '').replace(/\0/g, ' ').trim();
    out.push({ pid: Number(name), ppid: Number(fields[1]), comm, cmdline });
  }
  return out;
}

/** Every process whose ancestry contains one of the roots (roots included). */
export function descendants(roots: number[], procs: ProcInfo[] = listProcesses()): ProcInfo[] {
  const children = new Map<number, ProcInfo[]>();
  for (const p of procs) {
    const list = children.get(p.ppid) ?? [];
    list.push(p);
    children.set(p.ppid, list);
  }
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const seen = new Set<number>();
  const out: ProcInfo[] = [];
  const stack = [...roots];
  while (stack.length) {
    const pid = stack.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const p = byPid.get(pid);
    if (p) out.push(p);
    for (const c of children.get(pid) ?? []) stack.push(c.pid);
  }
  return out;
}

/** Resident set size in bytes (VmRSS), 0 if the process is gone. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readOr(`/proc/${pid}/status`) ?? '');
  return m ? Number(m[1]) * 1024 : 0;
}

/** Proportional set size in bytes, 0 if the process is gone. */
export function pssBytes(pid: number): number {
  const m = /^Pss:\s+(\d+) kB/m.exec(readOr(`/proc/${pid}/smaps_rollup`) ?? '');
  return m ? Number(m[1]) * 1024 : 0;
}

export function sumPss(pids: number[]): number {
  return pids.reduce((s, pid) => s + pssBytes(pid), 0);
}

export interface Mapping {
  range: string;
  name: string;
  rssKb: number;
  pssKb: number;
}

/** The n mappings of pid with the most resident memory (which region a big process spends it on). */
export function topMappings(pid: number, n: number): Mapping[] {
  const text = readOr(`/proc/${pid}/smaps`) ?? '';
  const out: Mapping[] = [];
  let cur: Mapping | undefined;
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+-[0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      cur = { range: head[1]!, name: head[2] || '[anon]', rssKb: 0, pssKb: 0 };
      out.push(cur);
      continue;
    }
    const kv = /^(Rss|Pss):\s+(\d+) kB/.exec(line);
    if (kv && cur) {
      if (kv[1] === 'Rss') cur.rssKb = Number(kv[2]);
      else cur.pssKb = Number(kv[2]);
    }
  }
  return out.sort((a, b) => b.rssKb - a.rssKb).slice(0, n);
}
