// Where a cgroup lives on disk: one directory per v1 controller hierarchy, or one cgroup2 dir.
import { join } from 'node:path';
import { invalidArgument } from '../errors/errors.js';
import { CGROUP_ROOT, detectCgroupMode, isV2, v1HierarchyNames, type CgroupMode } from './detect.js';

export interface CgroupFsOptions {
  /** cgroupfs mount root; tests point it at testdata */
  root?: string;
  /** defaults to detectCgroupMode(root) */
  mode?: CgroupMode;
}

export function resolveMode(opts: CgroupFsOptions = {}): { root: string; mode: CgroupMode } {
  const root = opts.root ?? CGROUP_ROOT;
  return { root, mode: opts.mode ?? detectCgroupMode(root) };
}

/** Cleans a cgroupfs path ("/kubepods/pod1", "kubepods/pod1/") into its segments; refuses "..". */
export function cgroupSegments(path: string): string[] {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  // "..", NUL: only a hostile cgroup_parent has them (a CRI request's fault: InvalidArgument)
  if (parts.some((p) => p === '..' || p.includes('\0'))) throw invalidArgument(`invalid cgroup path ${JSON.stringify(path)}`);
  return parts;
}

/**
 * v1: every controller hierarchy mounted under root (real directories; co-mount aliases such as
 * "cpu" → "cpu,cpuacct" symlinks are skipped), plus named ones like "systemd"; not "unified", and
 * not plain directories beside real cgroup mounts (see v1HierarchyNames).
 */
export function v1Hierarchies(root: string): string[] {
  return v1HierarchyNames(root);
}

/** The hierarchy dir holding a v1 controller ("cpuacct" may be mounted as "cpu,cpuacct"). */
export function v1ControllerDir(root: string, controller: string): string | undefined {
  for (const h of v1Hierarchies(root)) if (h.split(',').includes(controller)) return join(root, h);
  return undefined;
}

/** Every directory of the cgroup: one per v1 hierarchy, or the one cgroup2 dir. */
export function cgroupDirs(path: string, opts: CgroupFsOptions = {}): string[] {
  const { root, mode } = resolveMode(opts);
  const segs = cgroupSegments(path);
  if (isV2(mode)) return [join(root, ...segs)];
  return v1Hierarchies(root).map((h) => join(root, h, ...segs));
}

/** The directory of one controller's view of the cgroup (v2: the cgroup dir itself). */
export function controllerDir(path: string, controller: string, opts: CgroupFsOptions = {}): string | undefined {
  const { root, mode } = resolveMode(opts);
  const segs = cgroupSegments(path);
  if (isV2(mode)) return join(root, ...segs);
  const base = v1ControllerDir(root, controller);
  return base ? join(base, ...segs) : undefined;
}
