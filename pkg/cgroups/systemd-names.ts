// Names of the systemd cgroup driver: slice names as kubelet writes them
// ("kubepods-burstable-pod<uid>.slice"), runc's "slice:prefix:name" cgroupsPath form, and the
// cgroupfs directory each one stands for. Pure string work: no D-Bus, no filesystem.
import { invalidArgument } from '../errors/errors.js';

/** runc's, CRI-O's and containerd's prefix for container scopes ("crio", "cri-containerd"); ours. */
export const SCOPE_PREFIX = 'bulkhead';
/** Where pods without a kubelet cgroup_parent go with the systemd driver (cgroupfs: /bulkhead). */
export const DEFAULT_SLICE = 'bulkhead.slice';
/** runc's default slice for an empty slice part of "slice:prefix:name". */
const RUNC_DEFAULT_SLICE = 'system.slice';

/** A slice name as kubelet passes it: no slash, ends in ".slice". */
export const isSliceName = (s: string) => s.endsWith('.slice') && !s.includes('/');

/**
 * The cgroupfs path of a slice: systemd nests "a-b-c.slice" under "a.slice/a-b.slice/", so
 * "kubepods-burstable-pod123.slice" is /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod123.slice.
 * "-.slice" is the root. Like runc's ExpandSlice, empty dash segments ("a--b.slice", "-a.slice") are refused.
 */
export function expandSlice(slice: string): string {
  if (!isSliceName(slice)) throw invalidArgument(`invalid systemd slice name ${JSON.stringify(slice)}: expected "<name>.slice" without "/"`);
  const base = slice.slice(0, -'.slice'.length);
  if (base === '-') return '/';
  if (base === '' || base.includes('\0')) throw invalidArgument(`invalid systemd slice name ${JSON.stringify(slice)}`);
  const parts = base.split('-');
  if (parts.some((p) => p === '')) throw invalidArgument(`invalid systemd slice name ${JSON.stringify(slice)}: empty "-" segment`);
  let path = '';
  let prefix = '';
  for (const p of parts) {
    prefix = prefix ? `${prefix}-${p}` : p;
    path += `/${prefix}.slice`;
  }
  return path;
}

/** The slice a slice lives in ("a-b.slice" → "a.slice"; "a.slice" → "-.slice"). */
export function parentSlice(slice: string): string {
  expandSlice(slice);
  const base = slice.slice(0, -'.slice'.length);
  const dash = base.lastIndexOf('-');
  return dash <= 0 ? '-.slice' : `${base.slice(0, dash)}.slice`;
}

export interface SystemdCgroupsPath {
  slice: string;
  prefix: string;
  name: string;
}

/** Parses runc's "slice:prefix:name"; undefined when the string is not in that form. */
export function parseSystemdCgroupsPath(path: string): SystemdCgroupsPath | undefined {
  const parts = path.split(':');
  if (parts.length !== 3 || path.includes('/')) return undefined;
  const [slice, prefix, name] = parts as [string, string, string];
  return { slice, prefix, name };
}

/** The unit runc creates for "slice:prefix:name": "<prefix>-<name>.scope" (a ".slice" name as is). */
export function unitOf(p: SystemdCgroupsPath): string {
  return p.name.endsWith('.slice') ? p.name : `${p.prefix}-${p.name}.scope`;
}

/** The cgroupsPath a container of the pod slice gets: runc makes "bulkhead-<id>.scope" in it. */
export function containerCgroupsPath(podSlice: string, id: string): string {
  expandSlice(podSlice);
  if (!/^[A-Za-z0-9_.@-]+$/.test(id)) throw invalidArgument(`container id ${JSON.stringify(id)} cannot name a systemd scope`);
  return `${podSlice}:${SCOPE_PREFIX}:${id}`;
}

/** The slice Bulkhead creates for a pod kubelet gave no cgroup_parent (ids are hex: no dashes). */
export const ownedPodSlice = (podId: string) => `bulkhead-pod${podId.slice(0, 16)}.slice`;

/**
 * The cgroupfs path (relative to the cgroup mount, leading "/") of any cgroup name the runtime
 * records: a slice name, runc's "slice:prefix:name", or a cgroupfs path (returned unchanged).
 */
export function cgroupFsPath(path: string): string {
  if (isSliceName(path)) return expandSlice(path);
  const p = parseSystemdCgroupsPath(path);
  if (!p) return path;
  const slice = expandSlice(p.slice || RUNC_DEFAULT_SLICE);
  return `${slice === '/' ? '' : slice}/${unitOf(p)}`;
}
