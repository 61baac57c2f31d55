// cgroup v2 statistics parsing (the guest is pure cgroup v2).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CgroupV2Stats {
  cpuUsageNs: bigint;
  memoryUsageBytes: bigint;
  memoryWorkingSetBytes: bigint;
  memoryRssBytes: bigint;
  oomKills: bigint;
  pids: bigint;
}

export function parseFlatKeyed(text: string): Map<string, bigint> {
  const m = new Map<string, bigint>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v && /^\d+$/.test(v)) m.set(k, BigInt(v));
  }
  return m;
}

function readOr(path: string, fallback = ''): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

function num(text: string): bigint {
  const t = text.trim();
  return /^\d+$/.test(t) ? BigInt(t) : 0n;
}

/** Working set = usage - inactive_file, as kubelet/cAdvisor compute it. */
export function readCgroupV2Stats(dir: string): CgroupV2Stats {
  const cpu = parseFlatKeyed(readOr(join(dir, 'cpu.stat')));
  const mem = parseFlatKeyed(readOr(join(dir, 'memory.stat')));
  const events = parseFlatKeyed(readOr(join(dir, 'memory.events')));
  const usage = num(readOr(join(dir, 'memory.current')));
  const inactive = mem.get('inactive_file') ?? 0n;
  return {
    cpuUsageNs: (cpu.get('usage_usec') ?? 0n) * 1000n,
    memoryUsageBytes: usage,
    memoryWorkingSetBytes: usage > inactive ? usage - inactive : 0n,
    memoryRssBytes: mem.get('anon') ?? 0n,
    oomKills: events.get('oom_kill') ?? 0n,
    pids: num(readOr(join(dir, 'pids.current'))),
  };
}

/** The v2 files the host's cAdvisor-style metrics parse (agent.proto ContainerStats.cgroup_files). */
export const METRICS_CGROUP_FILES = [
  'cpu.stat',
  'memory.current',
  'memory.max',
  'memory.stat',
  'memory.events',
  'memory.peak',
  'memory.swap.current',
  'memory.low',
  'io.stat',
  'pids.current',
  'pids.max',
  'cgroup.procs', // with its descendants' (subtreeProcs)
] as const;
// cgroup.procs of ~9000 pids; past it the host would get a truncated list, so it gets none.
const MAX_FILE_BYTES = 64 * 1024;

// Sub-cgroups searched for processes: crun may run the container's processes in a child of the
// container cgroup (a v2 cgroup with enabled controllers holds no processes of its own).
const MAX_SUBTREE_DIRS = 64;

/** cgroup.procs of dir and its descendants (the container's processes wherever crun put them). */
function subtreeProcs(dir: string): string | undefined {
  const own = readOr(join(dir, 'cgroup.procs'), '\0');
  if (own === '\0') return undefined;
  let text = own;
  const queue = [dir];
  for (let seen = 0; queue.length && seen < MAX_SUBTREE_DIRS; seen++) {
    const d = queue.shift()!;
    let subs: string[] = [];
    try {
      subs = readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(d, e.name));
    } catch {
      /* removed meanwhile */
    }
    for (const sd of subs) {
      text += readOr(join(sd, 'cgroup.procs'));
      queue.push(sd);
    }
  }
  return queue.length ? undefined : text; // more dirs than searched: a partial list is not the container's
}

/** Those files of the cgroup at dir, verbatim; a missing (or oversized) file is left out. */
export function readCgroupFiles(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of METRICS_CGROUP_FILES) {
    const t = f === 'cgroup.procs' ? subtreeProcs(dir) : readOr(join(dir, f), '\0');
    if (t !== undefined && t !== '\0' && t.length <= MAX_FILE_BYTES) out[f] = t;
  }
  return out;
}
