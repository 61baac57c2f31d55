// Device nodes for containers: CRI Device entries (a node or a directory of nodes on the host)
// become linux.devices plus device-cgroup allow rules; privileged containers get every host device.
import { readdirSync, statSync, lstatSync, type BigIntStats } from 'node:fs';
import { join, relative } from 'node:path';
import { errnoCode, invalidArgument } from '../errors/errors.js';
import type { OciDevice, OciDeviceCgroupRule } from './spec-types.js';

export interface DeviceWithRule {
  device: OciDevice;
  rule: OciDeviceCgroupRule;
}

const S_IFMT = 0o170000n;
const S_IFCHR = 0o020000n;
const S_IFBLK = 0o060000n;

export function devMajor(rdev: bigint): number {
  return Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
}

export function devMinor(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
}

function deviceType(st: BigIntStats): 'c' | 'b' | undefined {
  const fmt = st.mode & S_IFMT;
  if (fmt === S_IFCHR) return 'c';
  if (fmt === S_IFBLK) return 'b';
  return undefined;
}

function makeDevice(st: BigIntStats, type: 'c' | 'b', containerPath: string, access: string): DeviceWithRule {
  const major = devMajor(st.rdev);
  const minor = devMinor(st.rdev);
  return {
    device: { type, path: containerPath, major, minor, fileMode: Number(st.mode & 0o777n), uid: Number(st.uid), gid: Number(st.gid) },
    rule: { allow: true, type, major, minor, access },
  };
}

function normalizePermissions(p: string): string {
  const perms = p === '' ? 'rwm' : p;
  if (!/^[rwm]{1,3}$/.test(perms)) throw invalidArgument(`invalid device permissions "${p}" (want a combination of r, w, m)`);
  return perms;
}

/** One CRI Device: a device node, or a directory whose device nodes are all passed through. */
export function devicesFromCri(hostPath: string, containerPath: string, permissions: string): DeviceWithRule[] {
  const access = normalizePermissions(permissions);
  if (!hostPath.startsWith('/')) throw invalidArgument(`device host_path "${hostPath}" must be absolute`);
  const target = containerPath === '' ? hostPath : containerPath;
  if (!target.startsWith('/')) throw invalidArgument(`device container_path "${containerPath}" must be absolute`);
  let st: BigIntStats;
  try {
    st = statSync(hostPath, { bigint: true });
  } catch (e) {
    throw invalidArgument(`device ${hostPath}: ${errnoCode(e) ?? String(e)}`);
  }
  const type = deviceType(st);
  if (type) return [makeDevice(st, type, target, access)];
  if (!st.isDirectory()) throw invalidArgument(`device ${hostPath} is not a device node or a directory`);
  return walkDevices(hostPath, () => false).map(({ path, st: s, type: t }) => makeDevice(s, t, join(target, relative(hostPath, path)), access));
}

interface FoundDevice {
  path: string;
  st: BigIntStats;
  type: 'c' | 'b';
}

function walkDevices(dir: string, skip: (path: string, name: string) => boolean): FoundDevice[] {
  const out: FoundDevice[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names.sort()) {
    const path = join(dir, name);
    if (skip(path, name)) continue;
    let st: BigIntStats;
    try {
      st = lstatSync(path, { bigint: true });
    } catch {
      continue; // vanished while walking
    }
    if (st.isDirectory()) {
      out.push(...walkDevices(path, skip));
      continue;
    }
    const type = deviceType(st);
    if (type) out.push({ path, st, type });
  }
  return out;
}

// Like containerd's HostDevices: skip the per-container filesystems and the console.
const SKIPPED_DEV_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/** Every device node under devRoot (default /dev), at the same path in the container, rwm. */
export function hostDevices(devRoot = '/dev'): DeviceWithRule[] {
  return walkDevices(devRoot, (path, name) => {
    const rel = relative(devRoot, path);
    return (!rel.includes('/') && SKIPPED_DEV_DIRS.has(name)) || rel === 'console';
  }).map(({ path, st, type }) => makeDevice(st, type, join('/dev', relative(devRoot, path)), 'rwm'));
}
