// Pod-level cgroups for the cgroupfs driver: create (with the pod's resources), list processes,
// kill everything inside, and remove bottom-up in every hierarchy. kubelet usually creates the
// pod cgroup itself; we tolerate both it existing and not.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as cri from '../api/cri-types.js';
import { errnoCode, failedPrecondition, invalidArgument } from '../errors/errors.js';
import { isV2 } from './detect.js';
import { cgroupDirs, cgroupSegments, controllerDir, resolveMode, v1ControllerDir, v1Hierarchies, type CgroupFsOptions } from './paths.js';
import { criInt } from '../validation/int64.js';

export interface CgroupResources {
  cpuShares?: number;
  cpuQuota?: number;
  cpuPeriod?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  memoryLimit?: number;
}

export function resourcesFromCri(res: cri.LinuxContainerResources__Output | null | undefined): CgroupResources {
  const out: CgroupResources = {};
  if (!res) return out;
  const n = (s: string | undefined, what: string) => criInt(s, `pod resources.${what}`);
  if (n(res.cpu_shares, 'cpu_shares') > 0) out.cpuShares = n(res.cpu_shares, 'cpu_shares');
  if (n(res.cpu_quota, 'cpu_quota') !== 0) out.cpuQuota = n(res.cpu_quota, 'cpu_quota');
  if (n(res.cpu_period, 'cpu_period') > 0) out.cpuPeriod = n(res.cpu_period, 'cpu_period');
  if (res.cpuset_cpus) out.cpusetCpus = res.cpuset_cpus;
  if (res.cpuset_mems) out.cpusetMems = res.cpuset_mems;
  if (n(res.memory_limit_in_bytes, 'memory_limit_in_bytes') > 0) out.memoryLimit = n(res.memory_limit_in_bytes, 'memory_limit_in_bytes');
  return out;
}

function readTrim(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

function write(path: string, value: string): void {
  try {
    writeFileSync(path, value);
  } catch (e) {
    // The kernel refuses out-of-range values (negative shares, quota below 1ms...): the request's fault.
    if (errnoCode(e) === 'EINVAL' || errnoCode(e) === 'ERANGE') throw invalidArgument(`cgroup ${basename(path)}: invalid value ${value.slice(0, 64)}`);
    // e.g. a cpuset that would take CPUs away from a child cgroup still using them
    if (errnoCode(e) === 'EBUSY') throw failedPrecondition(`cgroup ${basename(path)}: value ${value.slice(0, 64)} refused while in use (EBUSY)`);
    throw e;
  }
}

/** runc's shares → cgroup2 cpu.weight mapping ([2, 262144] → [1, 10000]). */
export function sharesToWeight(shares: number): number {
  if (shares <= 0) return 0;
  return Math.floor(1 + ((Math.min(Math.max(shares, 2), 262144) - 2) * 9999) / 262142);
}

/** Creates every missing level of a v1 cpuset cgroup with its parent's cpus/mems (else no task may join). */
function mkdirCpuset(base: string, segs: string[]): void {
  let dir = base;
  for (const s of segs) {
    const parent = dir;
    dir = join(dir, s);
    if (!existsSync(dir)) mkdirSync(dir);
    for (const f of ['cpuset.cpus', 'cpuset.mems']) {
      if (readTrim(join(dir, f)) === '') write(join(dir, f), readTrim(join(parent, f)));
    }
  }
}

/** cgroup2: enable the controllers the root offers for children, at every level down to the parent of path. */
function enableV2Controllers(root: string, segs: string[]): void {
  let dir = root;
  for (let i = 0; i < segs.length; i++) {
    const available = readTrim(join(dir, 'cgroup.controllers')).split(/\s+/).filter(Boolean);
    const enabled = new Set(readTrim(join(dir, 'cgroup.subtree_control')).split(/\s+/).filter(Boolean));
    const want = ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids'].filter((c) => available.includes(c) && !enabled.has(c));
    if (want.length > 0) {
      try {
        write(join(dir, 'cgroup.subtree_control'), want.map((c) => `+${c}`).join(' '));
      } catch (e) {
        // A level with processes of its own can't delegate (no internal processes rule); runc will report it.
        if (errnoCode(e) !== 'EBUSY') throw e;
      }
    }
    dir = join(dir, segs[i]!);
    if (!existsSync(dir)) mkdirSync(dir);
  }
}

/** Creates the cgroup (all levels, every hierarchy) when missing, then applies resources. */
export function ensureCgroup(path: string, resources: CgroupResources = {}, opts: CgroupFsOptions = {}): void {
  const { root, mode } = resolveMode(opts);
  const segs = cgroupSegments(path);
  if (segs.length === 0) throw invalidArgument('refusing to manage the root cgroup');
  if (isV2(mode)) enableV2Controllers(root, segs);
  else {
    for (const h of v1Hierarchies(root)) {
      if (h.split(',').includes('cpuset')) mkdirCpuset(join(root, h), segs);
      else mkdirSync(join(root, h, ...segs), { recursive: true });
    }
  }
  applyResources(path, resources, { root, mode });
}

/**
 * The pod cgroup, made to exist; LinuxPodSandboxConfig.resources are applied only to a cgroup
 * Bulkhead created itself (`owned`: the pod came without cgroup_parent). kubelet owns the cgroup it
 * names and sizes it itself, setting pod-level limits only when every container declares one; the
 * sandbox resources it sends sum only the limits containers declare (calculateSandboxResources), so
 * writing them into its cgroup capped a Burstable pod with one unlimited container at the partial
 * sum. containerd and CRI-O leave kubelet's pod cgroup alone as well.
 */
export function ensurePodCgroup(
  cgroupParent: string,
  podResources: cri.LinuxContainerResources__Output | null | undefined,
  owned: boolean,
  opts: CgroupFsOptions = {},
): void {
  ensureCgroup(cgroupParent, owned ? resourcesFromCri(podResources) : {}, opts);
}

export function applyResources(path: string, r: CgroupResources, opts: CgroupFsOptions = {}): void {
  const { root, mode } = resolveMode(opts);
  const dir = (c: string) => controllerDir(path, c, { root, mode });
  if (isV2(mode)) {
    const d = dir('cpu') as string;
    if (r.cpuShares !== undefined) write(join(d, 'cpu.weight'), String(sharesToWeight(r.cpuShares)));
    if (r.cpuQuota !== undefined || r.cpuPeriod !== undefined) {
      const quota = r.cpuQuota === undefined || r.cpuQuota < 0 ? 'max' : String(r.cpuQuota);
      write(join(d, 'cpu.max'), r.cpuPeriod !== undefined ? `${quota} ${r.cpuPeriod}` : quota);
    }
    if (r.cpusetCpus) write(join(d, 'cpuset.cpus'), r.cpusetCpus);
    if (r.cpusetMems) write(join(d, 'cpuset.mems'), r.cpusetMems);
    if (r.memoryLimit !== undefined) write(join(d, 'memory.max'), String(r.memoryLimit));
    return;
  }
  const cpu = dir('cpu');
  if (cpu) {
    if (r.cpuShares !== undefined) write(join(cpu, 'cpu.shares'), String(r.cpuShares));
    // The period first: a quota is checked against the current period.
    if (r.cpuPeriod !== undefined) write(join(cpu, 'cpu.cfs_period_us'), String(r.cpuPeriod));
    if (r.cpuQuota !== undefined) write(join(cpu, 'cpu.cfs_quota_us'), String(r.cpuQuota));
  }
  const cpuset = dir('cpuset');
  if (cpuset) {
    if (r.cpusetCpus) write(join(cpuset, 'cpuset.cpus'), r.cpusetCpus);
    if (r.cpusetMems) write(join(cpuset, 'cpuset.mems'), r.cpusetMems);
  }
  const mem = dir('memory');
  if (mem && r.memoryLimit !== undefined) write(join(mem, 'memory.limit_in_bytes'), String(r.memoryLimit));
}

/** Moves a process into the cgroup in every hierarchy (v1) or the cgroup2 dir. */
export function addProcess(path: string, pid: number, opts: CgroupFsOptions = {}): void {
  for (const dir of cgroupDirs(path, opts)) {
    if (existsSync(dir)) write(join(dir, 'cgroup.procs'), String(pid));
  }
}

function readPids(dir: string): number[] {
  return readTrim(join(dir, 'cgroup.procs'))
    .split('\n')
    .filter((l) => l !== '')
    .map(Number);
}

function childDirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => join(dir, e.name));
  } catch {
    return [];
  }
}

function collectPids(dir: string, recursive: boolean, into: Set<number>): void {
  for (const p of readPids(dir)) into.add(p);
  if (recursive) for (const c of childDirs(dir)) collectPids(c, true, into);
}

/** Processes in the cgroup (and, by default, its descendants), over every hierarchy. */
export function cgroupPids(path: string, opts: CgroupFsOptions & { recursive?: boolean } = {}): number[] {
  const pids = new Set<number>();
  for (const dir of cgroupDirs(path, opts)) collectPids(dir, opts.recursive ?? true, pids);
  return [...pids].sort((a, b) => a - b);
}

/**
 * Signals every process in the cgroup tree until it is empty (or the deadline passes).
 * v2 with cgroup.kill: one write does it atomically. v1: freeze (so nothing forks while we list),
 * signal everything, thaw, repeat. Returns true when the cgroup ended up empty.
 */
export async function killCgroup(path: string, signal: NodeJS.Signals = 'SIGKILL', opts: CgroupFsOptions & { timeoutMs?: number } = {}): Promise<boolean> {
  const { root, mode } = resolveMode(opts);
  const deadline = Date.now() + (opts.timeoutMs ?? 5000);
  const o = { root, mode };
  if (isV2(mode) && signal === 'SIGKILL') {
    const killFile = join(root, ...cgroupSegments(path), 'cgroup.kill');
    if (existsSync(killFile)) {
      try {
        write(killFile, '1');
      } catch (e) {
        if (errnoCode(e) !== 'ENOENT') throw e;
      }
    }
  }
  const freezer = isV2(mode) ? undefined : v1ControllerDir(root, 'freezer');
  const freezeState = freezer ? join(freezer, ...cgroupSegments(path), 'freezer.state') : undefined;
  for (;;) {
    const pids = cgroupPids(path, o);
    if (pids.length === 0) return true;
    if (Date.now() > deadline) return false;
    const frozen = signal === 'SIGKILL' && freezeState !== undefined && tryWrite(freezeState, 'FROZEN');
    for (const pid of cgroupPids(path, o)) {
      try {
        process.kill(pid, signal);
      } catch (e) {
        if (errnoCode(e) !== 'ESRCH') throw e;
      }
    }
    if (frozen) tryWrite(freezeState as string, 'THAWED');
    if (signal !== 'SIGKILL') return cgroupPids(path, o).length === 0;
    await sleep(20);
  }
}

function tryWrite(path: string, value: string): boolean {
  try {
    write(path, value);
    return true;
  } catch {
    return false;
  }
}

/** Depth-first rmdir of a cgroup tree in one hierarchy; ENOENT is fine, EBUSY is reported. */
function removeTree(dir: string): void {
  for (const c of childDirs(dir)) removeTree(c);
  try {
    rmdirSync(dir);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
}

/**
 * Removes the cgroup and its descendants in every hierarchy. Exiting processes keep a cgroup
 * busy for a moment, so EBUSY is retried (bounded) before giving up with the error.
 */
export async function removeCgroup(path: string, opts: CgroupFsOptions & { retries?: number; delayMs?: number } = {}): Promise<void> {
  const segs = cgroupSegments(path);
  if (segs.length === 0) throw new Error('refusing to remove the root cgroup');
  const retries = opts.retries ?? 50;
  const { root, mode } = resolveMode(opts);
  const dirs = cgroupDirs(path, { root, mode });
  // Hybrid hosts: runc also creates the cgroup in the controller-less cgroup2 ("unified") tree.
  // It is not a controller hierarchy, but leaving it behind leaks one directory per pod.
  if (!isV2(mode)) dirs.push(join(root, 'unified', ...segs));
  for (const dir of dirs) {
    for (let attempt = 0; ; attempt++) {
      try {
        removeTree(dir);
        break;
      } catch (e) {
        if (errnoCode(e) !== 'EBUSY' || attempt >= retries) throw e;
        await sleep(opts.delayMs ?? 20);
      }
    }
  }
}

/** The parent cgroupfs path ("/a/b/c" → "/a/b"). */
export const parentCgroup = (path: string) => dirname(`/${cgroupSegments(path).join('/')}`);
