// CgroupStats from a copy of a cgroup v2 directory's files (a micro-VM guest's container cgroup,
// sent by the agent as ContainerStats.cgroup_files). Same readings as stats.ts's v2 reader, which
// reads the host's cgroupfs directly.
import { parseFlatKeyed, type CgroupCpuStats, type CgroupStats } from './stats.js';
import type { V2Files } from './extra-stats.js';

// Anything at or above this is the kernel's "no limit" (as stats.ts).
const UNLIMITED_THRESHOLD = 2 ** 62;

const numOf = (t: string | undefined) => {
  const v = t?.trim();
  return v && /^\d+$/.test(v) ? Number(v) : undefined;
};

export function cgroupStatsV2(f: V2Files, timestampNs: bigint): CgroupStats {
  const out: CgroupStats = { timestampNs };
  const cs = parseFlatKeyed(f.read('cpu.stat'));
  const us = (k: string) => (/^\d+$/.test(cs.get(k) ?? '') ? BigInt(cs.get(k) as string) * 1000n : undefined);
  const usageNs = us('usage_usec');
  if (usageNs !== undefined) {
    const cpu: CgroupCpuStats = { usageNs };
    const user = us('user_usec');
    const sys = us('system_usec');
    if (user !== undefined) cpu.userNs = user;
    if (sys !== undefined) cpu.systemNs = sys;
    out.cpu = cpu;
  }
  const usage = numOf(f.read('memory.current'));
  if (usage !== undefined) {
    const st = parseFlatKeyed(f.read('memory.stat'));
    const ev = parseFlatKeyed(f.read('memory.events'));
    const n = (m: Map<string, string>, k: string) => Number(m.get(k) ?? 0);
    const workingSetBytes = Math.max(0, usage - n(st, 'inactive_file'));
    const limit = numOf(f.read('memory.max'));
    out.memory = {
      usageBytes: usage,
      workingSetBytes,
      rssBytes: n(st, 'anon'),
      cacheBytes: n(st, 'file'),
      pageFaults: n(st, 'pgfault'),
      majorPageFaults: n(st, 'pgmajfault'),
      oomKills: n(ev, 'oom_kill'),
      limitHits: n(ev, 'max'),
    };
    if (limit !== undefined && limit < UNLIMITED_THRESHOLD) {
      out.memory.limitBytes = limit;
      out.memory.availableBytes = Math.max(0, limit - workingSetBytes);
    }
  }
  const current = numOf(f.read('pids.current'));
  if (current !== undefined) {
    const limit = numOf(f.read('pids.max'));
    out.pids = limit === undefined ? { current } : { current, limit };
  }
  return out;
}
