// Which cgroup layout the host has. "hybrid" (v1 controllers plus an empty cgroup2 at
// /sys/fs/cgroup/unified) manages resources exactly like v1.
import { existsSync, readdirSync, readFileSync, statfsSync } from 'node:fs';
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
    try {
      for (const e of readdirSync(root, { withFileTypes: true })) {
        if (e.isDirectory() && e.name !== 'unified') for (const c of e.name.split(',')) out.add(c);
      }
    } catch {
      // same
    }
  }
  if (root === CGROUP_ROOT) cachedControllers = out;
  return new Set(out);
}
