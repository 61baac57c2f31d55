// A cgroup's own memory limit as the kernel holds it: v2 memory.max ("max" = none), v1
// memory.limit_in_bytes (no limit reads as PAGE_COUNTER_MAX pages, 0x7FFFFFFFFFFFF000 on 4 KiB
// pages). Read from the filesystem, not from what a CRI request said: kubelet sets a pod-level limit
// only when every container declares one, and its CRI LinuxPodSandboxConfig.resources sums only the
// declared limits, so the cgroup it made is the one reliable source.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errnoCode } from '../errors/errors.js';
import { controllerDir, resolveMode, type CgroupFsOptions } from './paths.js';
import { isV2 } from './detect.js';

/** v1 limits at or above this (2^62) stand for "no limit" (the kernel's value depends on the page size). */
const V1_UNLIMITED = 2 ** 62;

/**
 * The memory limit in bytes of the cgroup at path (a cgroupfs path); undefined when it sets none or
 * does not exist (no memory controller, a cgroup not made yet).
 */
export function cgroupMemoryLimit(path: string, opts: CgroupFsOptions = {}): number | undefined {
  const { mode } = resolveMode(opts);
  const dir = controllerDir(path, 'memory', opts);
  if (!dir) return undefined;
  let text: string;
  try {
    text = readFileSync(join(dir, isV2(mode) ? 'memory.max' : 'memory.limit_in_bytes'), 'utf8').trim();
  } catch (e) {
    // No such cgroup (or no memory controller in it): nothing limits the pod there.
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
  if (text === 'max' || text === '') return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || n >= V1_UNLIMITED) return undefined;
  return n;
}
