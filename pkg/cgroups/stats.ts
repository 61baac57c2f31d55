// Reads CPU, memory and pids statistics of a cgroup (v1 or v2) in the units CRI reports, plus
// the usage_nano_cores rate, which needs the previous sample of the same cgroup.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isV2 } from './detect.js';
import { controllerDir, resolveMode, type CgroupFsOptions } from './paths.js';
import { cgroupFsPath } from './systemd-names.js';

export interface CgroupCpuStats {
  usageNs: bigint;
  userNs?: bigint;
  systemNs?: bigint;
}

export interface CgroupMemoryStats {
  usageBytes: number;
  /** usage − inactive file pages (what kubelet evicts on), never negative */
  workingSetBytes: number;
  rssBytes: number;
  cacheBytes: number;
  pageFaults: number;
  majorPageFaults: number;
  /** undefined = unlimited */
  limitBytes?: number;
  /** limit − working set, when limited */
  availableBytes?: number;
  /** processes killed by the OOM killer in this cgroup */
  oomKills: number;
  /** v1 memory.failcnt / v2 memory.events "max": times usage hit the limit */
  limitHits: number;
}

export interface CgroupStats {
  /** wall clock of the sample, ns since the epoch */
  timestampNs: bigint;
  cpu?: CgroupCpuStats;
  memory?: CgroupMemoryStats;
  pids?: { current: number; limit?: number };
  /** micro-VM pods: the guest cgroup's v2 files as the agent sent them (cgroupStatsV2 parses them) */
  guestFiles?: Record<string, string>;
}

// Anything at or above this is the kernel's "no limit" (v1 prints PAGE_COUNTER_MAX pages in bytes).
const UNLIMITED_THRESHOLD = 2 ** 62;
const USER_HZ_NS = 10_000_000n;

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** A cgroup file's decimal value; undefined for "max", empty or anything else (a guest's copy is untrusted). */
function numberOf(text: string | undefined): number | undefined {
  const t = text?.trim();
  return t && /^\d+$/.test(t) ? Number(t) : undefined;
}

function readNumber(path: string): number | undefined {
  return numberOf(readText(path));
}

function hostV2Files(dir: string): V2Files {
  return { read: (name) => readText(join(dir, name)), hasChildCgroup: () => undefined };
}

function readBigInt(path: string): bigint | undefined {
  const t = readText(path)?.trim();
  if (!t || !/^\d+$/.test(t)) return undefined;
  return BigInt(t);
}

/** "key value" per line files (memory.stat, cpu.stat, memory.events, memory.oom_control). */
export function parseFlatKeyed(text: string | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) m.set(k, v);
  }
  return m;
}

const num = (m: Map<string, string>, k: string) => {
  const v = m.get(k);
  return v === undefined ? 0 : Number(v);
};

const limitOrUndefined = (n: number | undefined) => (n === undefined || n >= UNLIMITED_THRESHOLD ? undefined : n);

function memoryStats(usage: number, inactiveFile: number, rss: number, cache: number, faults: number, majors: number, limit: number | undefined, oomKills: number, limitHits: number): CgroupMemoryStats {
  const workingSetBytes = Math.max(0, usage - inactiveFile);
  const out: CgroupMemoryStats = { usageBytes: usage, workingSetBytes, rssBytes: rss, cacheBytes: cache, pageFaults: faults, majorPageFaults: majors, oomKills, limitHits };
  if (limit !== undefined) {
    out.limitBytes = limit;
    out.availableBytes = Math.max(0, limit - workingSetBytes);
  }
  return out;
}

function readV1(path: string, opts: CgroupFsOptions): Omit<CgroupStats, 'timestampNs'> {
  const out: Omit<CgroupStats, 'timestampNs'> = {};
  const cpuacct = controllerDir(path, 'cpuacct', opts);
  if (cpuacct) {
    const usageNs = readBigInt(join(cpuacct, 'cpuacct.usage'));
    if (usageNs !== undefined) {
      const cpu: CgroupCpuStats = { usageNs };
      const user = readBigInt(join(cpuacct, 'cpuacct.usage_user'));
      const sys = readBigInt(join(cpuacct, 'cpuacct.usage_sys'));
      if (user !== undefined && sys !== undefined) {
        cpu.userNs = user;
        cpu.systemNs = sys;
      } else {
        // Older kernels: only cpuacct.stat, in USER_HZ ticks.
        const st = parseFlatKeyed(readText(join(cpuacct, 'cpuacct.stat')));
        if (st.has('user')) cpu.userNs = BigInt(st.get('user') as string) * USER_HZ_NS;
        if (st.has('system')) cpu.systemNs = BigInt(st.get('system') as string) * USER_HZ_NS;
      }
      out.cpu = cpu;
    }
  }
  const mem = controllerDir(path, 'memory', opts);
  if (mem) {
    const usage = readNumber(join(mem, 'memory.usage_in_bytes'));
    if (usage !== undefined) {
      const st = parseFlatKeyed(readText(join(mem, 'memory.stat')));
      const oom = parseFlatKeyed(readText(join(mem, 'memory.oom_control')));
      out.memory = memoryStats(
        usage,
        num(st, 'total_inactive_file'),
        num(st, 'total_rss'),
        num(st, 'total_cache'),
        num(st, 'total_pgfault'),
        num(st, 'total_pgmajfault'),
        limitOrUndefined(readNumber(join(mem, 'memory.limit_in_bytes'))),
        num(oom, 'oom_kill'),
        readNumber(join(mem, 'memory.failcnt')) ?? 0,
      );
    }
  }
  const pids = controllerDir(path, 'pids', opts);
  if (pids) out.pids = readPids(pids);
  return out;
}

function readPids(dir: string): CgroupStats['pids'] {
  const current = readNumber(join(dir, 'pids.current'));
  if (current === undefined) return undefined;
  const limit = readNumber(join(dir, 'pids.max'));
  return limit === undefined ? { current } : { current, limit };
}

/** A cgroup v2 directory's files: read from the host's cgroupfs, or a copy a micro-VM guest sent. */
export interface V2Files {
  read(name: string): string | undefined;
  /** undefined when unknown (a guest's copy has no directory listing) */
  hasChildCgroup(): boolean | undefined;
}

function statsFromV2(f: V2Files): Omit<CgroupStats, 'timestampNs'> {
  const out: Omit<CgroupStats, 'timestampNs'> = {};
  const st = parseFlatKeyed(f.read('cpu.stat'));
  const us = (k: string) => (/^\d+$/.test(st.get(k) ?? '') ? BigInt(st.get(k) as string) * 1000n : undefined);
  const usageNs = us('usage_usec');
  if (usageNs !== undefined) {
    const cpu: CgroupCpuStats = { usageNs };
    const user = us('user_usec');
    const sys = us('system_usec');
    if (user !== undefined) cpu.userNs = user;
    if (sys !== undefined) cpu.systemNs = sys;
    out.cpu = cpu;
  }
  const usage = numberOf(f.read('memory.current'));
  if (usage !== undefined) {
    const ms = parseFlatKeyed(f.read('memory.stat'));
    const ev = parseFlatKeyed(f.read('memory.events'));
    out.memory = memoryStats(
      usage,
      num(ms, 'inactive_file'),
      num(ms, 'anon'),
      num(ms, 'file'),
      num(ms, 'pgfault'),
      num(ms, 'pgmajfault'),
      limitOrUndefined(numberOf(f.read('memory.max'))),
      num(ev, 'oom_kill'),
      num(ev, 'max'),
    );
  }
  const current = numberOf(f.read('pids.current'));
  if (current !== undefined) {
    const limit = numberOf(f.read('pids.max'));
    out.pids = limit === undefined ? { current } : { current, limit };
  }
  return out;
}

/** CgroupStats from a copy of a cgroup v2 directory's files (a micro-VM guest's container cgroup, ContainerStats.cgroup_files). */
export function cgroupStatsV2(f: V2Files, timestampNs: bigint): CgroupStats {
  return { timestampNs, ...statsFromV2(f) };
}

/** Statistics of the cgroup at a cgroupfs path ("/kubepods/pod1/ctr") or systemd name; parts the host lacks are left out. */
export function readCgroupStats(recorded: string, opts: CgroupFsOptions = {}, now: () => bigint = () => BigInt(Date.now()) * 1_000_000n): CgroupStats {
  const { root, mode } = resolveMode(opts);
  const timestampNs = now();
  // systemd driver records: "kubepods-pod1.slice", "kubepods-pod1.slice:bulkhead:<id>"
  const path = cgroupFsPath(recorded);
  const body = isV2(mode) ? statsFromV2(hostV2Files(controllerDir(path, 'cpu', { root, mode }) as string)) : readV1(path, { root, mode });
  return { timestampNs, ...body };
}

export interface CpuSample {
  timestampNs: bigint;
  usageNs: bigint;
}

/** CPU used between two samples in nanocores (1e9 = one full core); undefined when not computable. */
export function cpuUsageNanoCores(prev: CpuSample, cur: CpuSample): bigint | undefined {
  const dt = cur.timestampNs - prev.timestampNs;
  if (dt <= 0n || cur.usageNs < prev.usageNs) return undefined;
  return ((cur.usageNs - prev.usageNs) * 1_000_000_000n) / dt;
}

/**
 * Keeps the last CPU sample per cgroup so ContainerStats/PodSandboxStats can report
 * usage_nano_cores like containerd: the rate since the previous time anyone asked.
 */
export class CpuRateSampler {
  private readonly last = new Map<string, { sample: CpuSample; rate: bigint | undefined }>();

  /** Records a sample and returns the rate since the previous one of the same key (undefined on the first). */
  observe(key: string, sample: CpuSample): bigint | undefined {
    const prev = this.last.get(key);
    // Asked again within a millisecond: the interval is too short to mean anything, repeat the last rate.
    if (prev && sample.timestampNs - prev.sample.timestampNs < 1_000_000n && sample.usageNs >= prev.sample.usageNs) return prev.rate;
    const rate = prev ? cpuUsageNanoCores(prev.sample, sample) : undefined;
    this.last.set(key, { sample, rate });
    return rate;
  }

  forget(key: string): void {
    this.last.delete(key);
  }

  get size(): number {
    return this.last.size;
  }
}
