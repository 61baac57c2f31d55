// cgroup counters beyond what CRI's ContainerStats carries, for the cAdvisor-compatible metrics of
// ListPodSandboxMetrics: CFS throttling, more memory detail, block I/O per device, the process list
// and the pids limit. Every field is left out when the host does not have the file that holds it,
// so a caller never mistakes "not available" for a measured zero.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isV2 } from './detect.js';
import { controllerDir, resolveMode, type CgroupFsOptions } from './paths.js';
import { parseFlatKeyed, type V2Files } from './stats.js';

export type { V2Files };

/** At most this many pids of cgroup.procs are returned (the fd walk costs a readdir per pid). */
export const PROCS_CAP = 4096;
// v1 prints PAGE_COUNTER_MAX pages in bytes for "no limit"; anything at or above this is that.
const UNLIMITED_THRESHOLD = 2 ** 62;

export interface PageFaults {
  pgfault: number;
  pgmajfault: number;
}

export interface CgroupMemoryExtra {
  mappedFileBytes?: number;
  activeFileBytes?: number;
  inactiveFileBytes?: number;
  swapBytes?: number;
  kernelBytes?: number;
  /** v1 memory.max_usage_in_bytes / v2 memory.peak (kernel 5.19+) */
  maxUsageBytes?: number;
  /** v1 memory.soft_limit_in_bytes / v2 memory.low; undefined when unlimited or absent */
  reservationBytes?: number;
  /** faults of the cgroup's own tasks (cAdvisor scope "container") */
  faultsContainer?: PageFaults;
  /** faults of the cgroup and its descendants (scope "hierarchy") */
  faultsHierarchy?: PageFaults;
}

export interface CgroupIoDevice {
  major: number;
  minor: number;
  readBytes: number;
  writeBytes: number;
  reads: number;
  writes: number;
}

export interface CgroupExtraStats {
  cfs?: { periods: number; throttledPeriods: number; throttledNs: bigint };
  memory?: CgroupMemoryExtra;
  io?: CgroupIoDevice[];
  /** cgroup.procs: total line count and the first PROCS_CAP pids */
  procs?: { total: number; pids: number[] };
  /** pids.max; 0 = "max" (cAdvisor's container_threads_max: "infinity if value is zero") */
  threadsMax?: number;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function readNum(path: string): number | undefined {
  const t = readText(path)?.trim();
  if (!t || !/^\d+$/.test(t)) return undefined;
  return Number(t);
}

const get = (m: Map<string, string>, k: string): number | undefined => {
  const v = m.get(k);
  return v === undefined || !/^\d+$/.test(v) ? undefined : Number(v);
};

function setIf<T extends object, K extends keyof T>(o: T, k: K, v: T[K] | undefined): void {
  if (v !== undefined) o[k] = v;
}

function hasChildCgroup(dir: string): boolean {
  try {
    return readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory());
  } catch {
    return false;
  }
}

function faults(st: Map<string, string>, prefix: string): PageFaults | undefined {
  const pgfault = get(st, `${prefix}pgfault`);
  const pgmajfault = get(st, `${prefix}pgmajfault`);
  return pgfault === undefined || pgmajfault === undefined ? undefined : { pgfault, pgmajfault };
}

function cfs(st: Map<string, string>, throttledNs: bigint | undefined): CgroupExtraStats['cfs'] {
  const periods = get(st, 'nr_periods');
  const throttledPeriods = get(st, 'nr_throttled');
  if (periods === undefined || throttledPeriods === undefined || throttledNs === undefined) return undefined;
  return { periods, throttledPeriods, throttledNs };
}

const big = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? BigInt(v) : undefined);

/** "8:0 Read 4096" lines of v1 blkio files into per-device read/write values. */
function parseBlkio(text: string | undefined): Map<string, { read: number; write: number }> | undefined {
  if (!text) return undefined;
  const out = new Map<string, { read: number; write: number }>();
  for (const line of text.split('\n')) {
    const [dev, op, v] = line.trim().split(/\s+/);
    if (!dev || !/^\d+:\d+$/.test(dev) || v === undefined) continue;
    const e = out.get(dev) ?? { read: 0, write: 0 };
    if (op === 'Read') e.read = Number(v);
    if (op === 'Write') e.write = Number(v);
    out.set(dev, e);
  }
  return out.size ? out : undefined;
}

function ioV1(dir: string): CgroupIoDevice[] | undefined {
  // CFQ-era files are empty under blk-mq; runc and cAdvisor fall back to the throttle ones, which
  // count every I/O that passed the blkio controller.
  const pick = (name: string) => parseBlkio(readText(join(dir, `blkio.${name}_recursive`))) ?? parseBlkio(readText(join(dir, `blkio.throttle.${name}_recursive`))) ?? parseBlkio(readText(join(dir, `blkio.throttle.${name}`)));
  const bytes = pick('io_service_bytes');
  const ops = pick('io_serviced');
  if (!bytes && !ops) return undefined;
  const devs = new Set([...(bytes?.keys() ?? []), ...(ops?.keys() ?? [])]);
  return [...devs].map((d) => {
    const [major, minor] = d.split(':').map(Number) as [number, number];
    const b = bytes?.get(d);
    const o = ops?.get(d);
    return { major, minor, readBytes: b?.read ?? 0, writeBytes: b?.write ?? 0, reads: o?.read ?? 0, writes: o?.write ?? 0 };
  });
}

/** v2 io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0". */
export function parseIoStat(text: string | undefined): CgroupIoDevice[] | undefined {
  if (text === undefined) return undefined;
  const out: CgroupIoDevice[] = [];
  for (const line of text.split('\n')) {
    const [dev, ...kv] = line.trim().split(/\s+/);
    if (!dev || !/^\d+:\d+$/.test(dev)) continue;
    const f = new Map(kv.map((p) => p.split('=') as [string, string]));
    const [major, minor] = dev.split(':').map(Number) as [number, number];
    out.push({ major, minor, readBytes: Number(f.get('rbytes') ?? 0), writeBytes: Number(f.get('wbytes') ?? 0), reads: Number(f.get('rios') ?? 0), writes: Number(f.get('wios') ?? 0) });
  }
  return out;
}

function procsOf(t: string | undefined): CgroupExtraStats['procs'] {
  if (t === undefined) return undefined;
  const lines = t.split('\n').filter((l) => /^\d+$/.test(l.trim()));
  return { total: lines.length, pids: lines.slice(0, PROCS_CAP).map(Number) };
}

const procs = (dir: string | undefined) => (dir === undefined ? undefined : procsOf(readText(join(dir, 'cgroup.procs'))));

function threadsMaxOf(text: string | undefined): number | undefined {
  const t = text?.trim();
  if (t === 'max') return 0;
  return t && /^\d+$/.test(t) ? Number(t) : undefined;
}

const threadsMax = (dir: string | undefined) => (dir === undefined ? undefined : threadsMaxOf(readText(join(dir, 'pids.max'))));

const limited = (n: number | undefined) => (n === undefined || n >= UNLIMITED_THRESHOLD ? undefined : n);

function readV1(path: string, opts: CgroupFsOptions): CgroupExtraStats {
  const out: CgroupExtraStats = {};
  const cpu = controllerDir(path, 'cpu', opts);
  if (cpu) {
    const st = parseFlatKeyed(readText(join(cpu, 'cpu.stat')));
    setIf(out, 'cfs', cfs(st, big(st.get('throttled_time'))));
  }
  const memDir = controllerDir(path, 'memory', opts);
  const usage = memDir ? readNum(join(memDir, 'memory.usage_in_bytes')) : undefined;
  if (memDir && usage !== undefined) {
    const st = parseFlatKeyed(readText(join(memDir, 'memory.stat')));
    const m: CgroupMemoryExtra = {};
    setIf(m, 'mappedFileBytes', get(st, 'total_mapped_file'));
    setIf(m, 'activeFileBytes', get(st, 'total_active_file'));
    setIf(m, 'inactiveFileBytes', get(st, 'total_inactive_file'));
    const memsw = readNum(join(memDir, 'memory.memsw.usage_in_bytes')); // only with swap accounting
    if (memsw !== undefined) m.swapBytes = Math.max(0, memsw - usage);
    setIf(m, 'kernelBytes', readNum(join(memDir, 'memory.kmem.usage_in_bytes')));
    setIf(m, 'maxUsageBytes', readNum(join(memDir, 'memory.max_usage_in_bytes')));
    setIf(m, 'reservationBytes', limited(readNum(join(memDir, 'memory.soft_limit_in_bytes'))));
    setIf(m, 'faultsContainer', faults(st, ''));
    setIf(m, 'faultsHierarchy', faults(st, 'total_'));
    out.memory = m;
  }
  const blkio = controllerDir(path, 'blkio', opts);
  if (blkio) setIf(out, 'io', ioV1(blkio));
  const pidsDir = controllerDir(path, 'pids', opts);
  setIf(out, 'procs', procs(pidsDir) ?? procs(memDir) ?? procs(cpu));
  setIf(out, 'threadsMax', threadsMax(pidsDir));
  return out;
}

/** A cgroup v2 directory's files, by name: the host's cgroupfs, or a micro-VM guest's copy. */

export function v2Dir(dir: string): V2Files {
  return { read: (name) => readText(join(dir, name)), hasChildCgroup: () => hasChildCgroup(dir) };
}

export function v2FileMap(files: Readonly<Record<string, string>>): V2Files {
  return { read: (name) => (Object.hasOwn(files, name) ? files[name] : undefined), hasChildCgroup: () => undefined };
}

const numOf = (t: string | undefined) => {
  const v = t?.trim();
  return v && /^\d+$/.test(v) ? Number(v) : undefined;
};

/** Extra statistics from a cgroup v2 directory's files. */
export function extraStatsV2(f: V2Files): CgroupExtraStats {
  const out: CgroupExtraStats = {};
  const cpuStat = parseFlatKeyed(f.read('cpu.stat'));
  const thrUs = big(cpuStat.get('throttled_usec'));
  setIf(out, 'cfs', cfs(cpuStat, thrUs === undefined ? undefined : thrUs * 1000n));
  if (numOf(f.read('memory.current')) !== undefined) {
    const st = parseFlatKeyed(f.read('memory.stat'));
    const m: CgroupMemoryExtra = {};
    setIf(m, 'mappedFileBytes', get(st, 'file_mapped'));
    setIf(m, 'activeFileBytes', get(st, 'active_file'));
    setIf(m, 'inactiveFileBytes', get(st, 'inactive_file'));
    setIf(m, 'swapBytes', numOf(f.read('memory.swap.current')));
    setIf(m, 'kernelBytes', get(st, 'kernel')); // memory.stat "kernel": 5.18+
    setIf(m, 'maxUsageBytes', numOf(f.read('memory.peak'))); // 5.19+
    setIf(m, 'reservationBytes', numOf(f.read('memory.low')));
    // v2 memory.stat counts descendants too; with no child cgroup (a container's leaf cgroup) that
    // is also the cgroup's own count.
    const pf = faults(st, '');
    setIf(m, 'faultsHierarchy', pf);
    if (pf && f.hasChildCgroup() === false) m.faultsContainer = pf;
    out.memory = m;
  }
  setIf(out, 'io', parseIoStat(f.read('io.stat')));
  setIf(out, 'procs', procsOf(f.read('cgroup.procs')));
  setIf(out, 'threadsMax', threadsMaxOf(f.read('pids.max')));
  return out;
}

/** Extra statistics of the cgroup at a cgroupfs path; parts the host lacks are left out. */
export function readCgroupExtraStats(path: string, opts: CgroupFsOptions = {}): CgroupExtraStats {
  const { root, mode } = resolveMode(opts);
  return isV2(mode) ? extraStatsV2(v2Dir(controllerDir(path, 'cpu', { root, mode }) as string)) : readV1(path, { root, mode });
}
