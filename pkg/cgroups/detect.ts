// Which cgroup layout the host has. "hybrid" (v1 controllers plus an empty cgroup2 at
// /sys/fs/cgroup/unified) manages resources exactly like v1.
import { existsSync, lstatSync, readdirSync, readFileSync, statfsSync } from 'node:fs';
import { join } from 'node:path';

export type CgroupMode = 'v1' | 'v2' | 'hybrid';

export const CGROUP_ROOT = '/sys/fs/cgroup';
const CGROUP2_SUPER_MAGIC = 0x63677270;

let cached: CgroupMode | undefined;

export function detectCgroupMode(root = CGROUP_ROOT): CgroupMode {
  if (root === CGROUP_ROOT && cached) return cached;
  let mode: CgroupMode;
  if (isCgroup2(root) || existsSync(join(root, 'cgroup.controllers'))) mode = 'v2';
  else if (isCgroup2(join(root, 'unified')) || existsSync(join(root, 'unified', 'cgroup.controllers'))) mode = 'hybrid';
  else mode = 'v1';
  if (root === CGROUP_ROOT) cached = mode;
  return mode;
}

/** True when resource controllers live in the cgroup2 hierarchy. */
export const isV2 = (mode: CgroupMode) => mode === 'v2';

function isCgroup2(path: string): boolean {
  try {
    return statfsSync(path).type === CGROUP2_SUPER_MAGIC;
  } catch {
    return false;
  }
}

let cachedControllers: Set<string> | undefined;

/** Resource controllers usable for containers: v1 mounted hierarchies, or cgroup2's root cgroup.controllers. */
export function availableControllers(root = CGROUP_ROOT, mode: CgroupMode = detectCgroupMode(root)): Set<string> {
  if (root === CGROUP_ROOT && cachedControllers) return new Set(cachedControllers);
  const out = new Set<string>();
  if (isV2(mode)) {
    try {
      for (const c of readFileSync(join(root, 'cgroup.controllers'), 'utf8').split(/\s+/)) if (c) out.add(c);
    } catch {
      // no cgroupfs: nothing available
    }
  } else {
    // Only real hierarchies: a kind node's empty plain "hugetlb" dir made hugepage limits look
    // settable, and runc then failed every container ("cannot set hugetlb limit").
    for (const h of v1HierarchyNames(root)) for (const c of h.split(',')) out.add(c);
  }
  if (root === CGROUP_ROOT) cachedControllers = out;
  return new Set(out);
}

/** statfs f_type of a cgroup v1 hierarchy (CGROUP_SUPER_MAGIC). */
const CGROUP_SUPER_MAGIC = 0x27e0eb;

function fsType(dir: string): number | undefined {
  try {
    return statfsSync(dir).type;
  } catch {
    return undefined;
  }
}

/**
 * v1: every controller hierarchy mounted under root (real directories; co-mount aliases such as
 * "cpu" → "cpu,cpuacct" symlinks are skipped), plus named ones like "systemd". "unified" (the
 * empty cgroup2 of hybrid hosts) is not a controller hierarchy.
 *
 * When any entry is a cgroup mount, entries that are not are skipped: a kind node on a host with
 * cpu and cpuacct mounted apart also has an empty plain "cpu,cpuacct" dir (and "perf_event",
 * "hugetlb" ...) in its /sys/fs/cgroup tmpfs, and creating pod cgroups there failed with ENOENT.
 * Test roots (plain directories, no cgroup mount at all) keep every directory.
 */
export function v1HierarchyNames(root: string): string[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const dirs = names.filter((n) => {
    if (n === 'unified') return false;
    try {
      return lstatSync(join(root, n)).isDirectory();
    } catch {
      return false;
    }
  });
  const mounted = dirs.filter((n) => fsType(join(root, n)) === CGROUP_SUPER_MAGIC);
  return mounted.length > 0 ? mounted : dirs;
}
