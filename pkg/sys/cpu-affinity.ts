// CPU lists ("0-3,8,10-11": the kernel's and cgroup cpuset's format) and a thin koffi binding to
// sched_setaffinity(2) / sched_getaffinity(2) for one thread (a tid: affinity is per thread).
// Errors carry the errno name as `code` (sysError, as mount.ts).
import { readFileSync } from 'node:fs';
import koffi from 'koffi';
import { sysError } from './mount.js';

/** cpu_set_t of glibc: 1024 CPUs. */
const SET_BYTES = 128;
const MAX_CPUS = SET_BYTES * 8;

const libc = koffi.load('libc.so.6');
const cSetAffinity = libc.func('int sched_setaffinity(int pid, size_t cpusetsize, const uint8_t *mask)');
const cGetAffinity = libc.func('int sched_getaffinity(int pid, size_t cpusetsize, _Out_ uint8_t *mask)');

/** A CPU list as sorted, distinct numbers; undefined when it is not one (syntax, a reversed range, above 1023). */
export function parseCpuList(text: string): number[] | undefined {
  const t = text.trim();
  if (t === '') return [];
  const out = new Set<number>();
  for (const part of t.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) return undefined;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi >= MAX_CPUS) return undefined;
    for (let c = lo; c <= hi; c++) out.add(c);
  }
  return [...out].sort((a, b) => a - b);
}

/** Numbers as a CPU list, ranges folded ("0-2,5"). */
export function formatCpuList(cpus: Iterable<number>): string {
  const s = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    parts.push(j > i ? `${s[i]}-${s[j]}` : String(s[i]));
    i = j + 1;
  }
  return parts.join(',');
}

/** The host's online CPUs and NUMA nodes (sysfs; a kernel without NUMA has node 0 only). */
export function onlineCpus(): number[] {
  return parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8')) ?? [];
}

export function onlineNodes(): number[] {
  try {
    return parseCpuList(readFileSync('/sys/devices/system/node/online', 'utf8')) ?? [0];
  } catch (e) {
    // CONFIG_NUMA off: no node directory, one memory node.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [0];
    throw e;
  }
}

/** sched_setaffinity(2) of one thread (tid; 0 = the caller). */
export function setThreadAffinity(tid: number, cpus: readonly number[]): void {
  const mask = Buffer.alloc(SET_BYTES);
  for (const c of cpus) {
    if (c < 0 || c >= MAX_CPUS) throw new RangeError(`cpu ${c} outside cpu_set_t`);
    mask[c >> 3]! |= 1 << (c & 7);
  }
  if (cSetAffinity(tid, SET_BYTES, mask) !== 0) throw sysError('sched_setaffinity', koffi.errno(), String(tid));
}

/** sched_getaffinity(2) of one thread (tid; 0 = the caller). */
export function threadAffinity(tid: number): number[] {
  const mask = Buffer.alloc(SET_BYTES);
  if (cGetAffinity(tid, SET_BYTES, mask) !== 0) throw sysError('sched_getaffinity', koffi.errno(), String(tid));
  const out: number[] = [];
  for (let c = 0; c < MAX_CPUS; c++) if (mask[c >> 3]! & (1 << (c & 7))) out.push(c);
  return out;
}
