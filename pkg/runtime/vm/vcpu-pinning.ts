// kubelet's CPU manager (static policy) gives a Guaranteed pod's containers cpusets of host CPUs
// (linux.resources.cpuset_cpus/cpuset_mems at CreateContainer and UpdateContainerResources). Inside
// a micro-VM host CPU numbers mean nothing (the guest has vCPUs 0..n-1, and a cpuset naming CPU 5 in
// a 2-vCPU guest makes crun fail), so, as Kata's enable_vcpus_pinning does: the cpusets are taken
// out of the guest's spec and QEMU's vCPU threads are pinned on the host to the union of the pod's
// containers' cpusets instead, recomputed whenever one is created, updated or removed. The threads
// come from QMP query-cpus-fast (one per vCPU with KVM and with multi-threaded TCG; single-threaded
// TCG runs every vCPU on one thread, which then gets the union). QEMU's other threads (main loop,
// I/O) and virtiofsd keep their affinity.
//
// cpuset_mems is checked and taken out of the guest's spec but not applied on the host (the guest
// RAM's NUMA placement would need mbind on QEMU's memory backend).
//
// The cpusets are kept in <pod state dir>/cpusets.json, so a restarted daemon recomputes the union
// with the containers created before it.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { invalidArgument } from '../../errors/errors.js';
import { formatCpuList, onlineCpus, onlineNodes, parseCpuList, setThreadAffinity, threadAffinity } from '../../sys/cpu-affinity.js';

/** A container's cpusets as kubelet sent them ("" = none). */
export interface Cpusets {
  cpus: string;
  mems: string;
}

/** What the host offers (tests pass their own). */
export interface HostTopology {
  cpus: readonly number[];
  nodes: readonly number[];
}

export const hostTopology = (): HostTopology => ({ cpus: onlineCpus(), nodes: onlineNodes() });

/** InvalidArgument unless both lists parse and name only the host's online CPUs / memory nodes. */
export function checkCpusets(what: string, s: Cpusets, host: HostTopology = hostTopology()): void {
  for (const [field, text, have] of [['cpuset_cpus', s.cpus, host.cpus], ['cpuset_mems', s.mems, host.nodes]] as const) {
    if (!text) continue;
    const list = parseCpuList(text);
    if (!list) throw invalidArgument(`${what}: ${field} ${JSON.stringify(text.slice(0, 64))} is not a CPU list`);
    const missing = list.filter((c) => !have.includes(c));
    if (missing.length) throw invalidArgument(`${what}: ${field} ${text} is not a subset of the host's (${formatCpuList(have)}): no ${formatCpuList(missing)}`);
  }
}

/** The cpusets of an OCI spec's linux.resources.cpu (cpus/mems), and the spec without them. */
export function takeCpusets(resources: { cpu?: { cpus?: string; mems?: string } } | undefined): Cpusets {
  const cpu = resources?.cpu;
  const out = { cpus: cpu?.cpus ?? '', mems: cpu?.mems ?? '' };
  if (cpu) {
    delete cpu.cpus;
    delete cpu.mems;
  }
  return out;
}

/** The pod's containers' cpusets, kept in its state dir. */
export class PodCpusets {
  private readonly file: string;

  constructor(podStateDir: string) {
    this.file = join(podStateDir, 'cpusets.json');
  }

  private read(): Record<string, Cpusets> {
    if (!existsSync(this.file)) return {};
    return JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, Cpusets>;
  }

  /** Records a container's cpusets (undefined: forgets it) and returns the pod's CPU union (empty: no container has a cpuset). */
  set(containerId: string, s: Cpusets | undefined): number[] {
    mkdirSync(dirname(this.file), { recursive: true });
    const all = this.read();
    if (s && (s.cpus || s.mems)) all[containerId] = s;
    else delete all[containerId];
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(all));
    renameSync(tmp, this.file);
    return unionOf(Object.values(all));
  }

  get(containerId: string): Cpusets | undefined {
    return this.read()[containerId];
  }

  /** The CPUs of every recorded container together. */
  union(): number[] {
    return unionOf(Object.values(this.read()));
  }
}

export function unionOf(list: readonly Cpusets[]): number[] {
  const out = new Set<number>();
  for (const s of list) for (const c of parseCpuList(s.cpus) ?? []) out.add(c);
  return [...out].sort((a, b) => a - b);
}

/** QMP as much as pinning needs. */
export interface VcpuQmp {
  execute(command: string): Promise<unknown>;
}

/**
 * The host thread ids of the VM's vCPUs (distinct: single-threaded TCG shares one). QEMU's answer is
 * not trusted: only positive integers, at most 1024 of them (QEMU's x86 maximum is 1024 vCPUs).
 */
export async function vcpuThreads(qmp: VcpuQmp): Promise<number[]> {
  const cpus = await qmp.execute('query-cpus-fast');
  if (!Array.isArray(cpus)) return [];
  const tids = cpus.slice(0, 1024).map((c: unknown) => (c as { 'thread-id'?: unknown } | null)?.['thread-id']);
  return [...new Set(tids.filter((t): t is number => Number.isSafeInteger(t) && (t as number) > 0))];
}

export interface AffinityOps {
  set(tid: number, cpus: readonly number[]): void;
  get(tid: number): number[];
  /** Whether tid is a thread of process pid. */
  isThreadOf(pid: number, tid: number): boolean;
}

const sysAffinity: AffinityOps = { set: setThreadAffinity, get: threadAffinity, isThreadOf: (pid, tid) => existsSync(`/proc/${pid}/task/${tid}`) };

/**
 * Pins the VM's vCPU threads to cpus; an empty union gives them back QEMU's main thread's affinity
 * (what they had before any pinning: threads inherit it, and it is never changed). Returns the
 * threads and the CPUs they got.
 */
export async function pinVcpus(qmp: VcpuQmp, qemuPid: number, cpus: () => readonly number[], ops: AffinityOps = sysAffinity): Promise<{ threads: number[]; cpus: number[] }> {
  // Only QEMU's own threads: a QEMU that named another process's thread (it runs as the VM's uid,
  // the daemon as root) must not get the daemon to pin that process.
  const threads = (await vcpuThreads(qmp)).filter((tid) => ops.isThreadOf(qemuPid, tid));
  const union = cpus();
  const target = union.length ? [...union] : ops.get(qemuPid);
  for (const tid of threads) ops.set(tid, target);
  return { threads, cpus: target };
}
