// Linux capability sets for a container: containerd's default set, CRI add/drop (with "ALL"),
// ambient capabilities, and "every capability this kernel knows" for privileged containers.
import { readFileSync } from 'node:fs';
import { invalidArgument } from '../errors/errors.js';
import type { OciCapabilities } from './spec-types.js';

/** Capability names by number (linux/capability.h). */
export const CAPABILITY_NAMES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** containerd's (and Docker's) default capability set for unprivileged containers. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

let cachedAll: string[] | undefined;

/**
 * Every capability the running kernel knows (0..cap_last_cap) that is also in our own bounding
 * set: a container can't get what we lack (here root runs without CAP_SYS_RESOURCE, and runc
 * fails with "unable to apply caps" if asked for it). Like containerd's WithAllCurrentCapabilities.
 */
export function allKernelCapabilities(capLastCapFile = '/proc/sys/kernel/cap_last_cap', statusFile = '/proc/self/status'): string[] {
  const isDefault = capLastCapFile === '/proc/sys/kernel/cap_last_cap' && statusFile === '/proc/self/status';
  if (isDefault && cachedAll) return [...cachedAll];
  let last = CAPABILITY_NAMES.length - 1;
  try {
    const n = Number(readFileSync(capLastCapFile, 'utf8').trim());
    if (Number.isInteger(n) && n >= 0) last = Math.min(n, CAPABILITY_NAMES.length - 1);
  } catch {
    // No /proc (unit tests in odd sandboxes): assume the table is right.
  }
  let bounding = (1n << 64n) - 1n;
  try {
    const m = /^CapBnd:\s*([0-9a-fA-F]+)/m.exec(readFileSync(statusFile, 'utf8'));
    if (m) bounding = BigInt(`0x${m[1]}`);
  } catch {
    // Same as above.
  }
  const all = CAPABILITY_NAMES.slice(0, last + 1).filter((_, i) => (bounding >> BigInt(i)) & 1n);
  if (isDefault) cachedAll = all;
  return [...all];
}

/** CRI names have no CAP_ prefix and any case ("net_admin"); OCI wants "CAP_NET_ADMIN". */
export function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!CAPABILITY_NAMES.includes(full)) throw invalidArgument(`unknown capability "${name}"`);
  return full;
}

export interface CapabilityRequest {
  privileged: boolean;
  add?: string[];
  drop?: string[];
  ambient?: string[];
  /** Capabilities this node can grant; defaults to allKernelCapabilities(). */
  allCaps?: string[];
}

/**
 * containerd's order: add ALL, then drop ALL, then individual adds, then individual drops, so
 * add=[ALL] drop=[CHOWN] is everything but CHOWN and drop=[ALL] add=[NET_ADMIN] is just NET_ADMIN.
 * Inheritable stays empty unless ambient capabilities are asked for (CVE-2022-24769).
 */
export function buildCapabilities(req: CapabilityRequest): OciCapabilities {
  const all = req.allCaps ?? allKernelCapabilities();
  if (req.privileged) {
    return { bounding: [...all], effective: [...all], permitted: [...all], inheritable: [], ambient: [] };
  }
  const isAll = (c: string) => c.trim().toUpperCase() === 'ALL';
  const add = req.add ?? [];
  const drop = req.drop ?? [];
  let caps: string[] = [...DEFAULT_CAPABILITIES];
  if (add.some(isAll)) caps = [...all];
  if (drop.some(isAll)) caps = [];
  for (const c of add) {
    if (isAll(c)) continue;
    const n = normalizeCapability(c);
    if (!caps.includes(n)) caps.push(n);
  }
  const dropped = new Set(drop.filter((c) => !isAll(c)).map((c) => normalizeCapability(c)));
  // Capabilities this node can't grant (not in our bounding set) are left out rather than
  // making runc fail the whole container.
  const grantable = new Set(all);
  caps = caps.filter((c) => !dropped.has(c) && grantable.has(c));
  // An ambient capability only takes effect when it is also permitted and inheritable.
  const ambient = [...new Set((req.ambient ?? []).map((c) => normalizeCapability(c)))].filter((c) => grantable.has(c));
  for (const c of ambient) if (!caps.includes(c)) caps.push(c);
  return { bounding: [...caps], effective: [...caps], permitted: [...caps], inheritable: [...ambient], ambient };
}
