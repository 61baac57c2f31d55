// What the guest's container manager (containers.ts) needs from the guest system, without state of its
// own: the OCI spec adapted to the guest (namespaces, devices, the pod files), exec process specs,
// crun under a terminal, the containers' cgroup parent, layer block devices by serial, /proc lookups.
import { lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExecProcessRequest__Output } from '../../api/gen/agent/bulkhead/agent/v1/ExecProcessRequest.js';
import { GUEST_DEVICES_ANNOTATION, GUEST_POD_PIDNS } from '../vmchannel/protocol.js';

export const CGROUP_ROOT = '/sys/fs/cgroup';

export function nowNs(): string {
  return (BigInt(Date.now()) * 1_000_000n).toString();
}

/** First child of pid (scans /proc: no dependency on CONFIG_PROC_CHILDREN). */
export function childOf(pid: number): number | undefined {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (/^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${d}/status`, 'utf8'))?.[1] === String(pid)) return Number(d);
    } catch {
      /* exited */
    }
  }
  return undefined;
}

export function findBlockBySerial(serial: string): string | undefined {
  for (const d of readdirSync('/sys/block')) {
    try {
      if (readFileSync(`/sys/block/${d}/serial`, 'utf8').trim() === serial) return `/dev/${d}`;
    } catch {
      /* no serial attribute */
    }
  }
  return undefined;
}

export function isMounted(path: string): boolean {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[1] === path);
}

/** The OCI process of an exec: the container's own process with the exec's args, env additions, cwd, tty. */
export function execProcess(configPath: string, req: ExecProcessRequest__Output): Record<string, unknown> {
  const spec = JSON.parse(readFileSync(configPath, 'utf8')) as { process?: Record<string, unknown> };
  const proc = { ...(spec.process ?? {}) };
  proc.args = req.args;
  if (req.env.length) {
    const names = new Set(req.env.map((e) => e.split('=')[0]));
    proc.env = [...((proc.env as string[] | undefined) ?? []).filter((e) => !names.has(e.split('=')[0])), ...req.env];
  }
  if (req.cwd) proc.cwd = req.cwd;
  proc.terminal = req.tty;
  delete proc.consoleSize;
  return proc;
}

/** /sys/fs/cgroup/bulkhead/<id> with every available controller delegated to its children. */
export function ensureParentCgroup(id: string): void {
  for (const dir of [join(CGROUP_ROOT, 'bulkhead'), join(CGROUP_ROOT, 'bulkhead', id)]) {
    mkdirSync(dir, { recursive: true });
    const ctrls = readFileSync(join(dir, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean);
    for (const c of ctrls) {
      try {
        writeFileSync(join(dir, 'cgroup.subtree_control'), `+${c}`);
      } catch {
        /* not delegable here: crun manages without it */
      }
    }
  }
}

/** The guest's device nodes (top level of /dev) as OCI devices, for privileged containers. */
export function guestDevices(): { path: string; type: string; major: number; minor: number; fileMode: number; uid: number; gid: number }[] {
  const out = [];
  for (const name of readdirSync('/dev')) {
    const path = `/dev/${name}`;
    let st;
    try {
      st = lstatSync(path);
    } catch {
      continue;
    }
    if (!st.isCharacterDevice() && !st.isBlockDevice()) continue;
    if (['console', 'tty', 'ptmx'].includes(name)) continue; // crun sets these up itself
    const rdev = st.rdev;
    const major = Number((BigInt(rdev) >> 8n) & 0xfffn) | Number((BigInt(rdev) >> 32n) & ~0xfffn);
    const minor = Number(BigInt(rdev) & 0xffn) | Number((BigInt(rdev) >> 12n) & ~0xffn);
    out.push({ path, type: st.isBlockDevice() ? 'b' : 'c', major, minor, fileMode: st.mode & 0o777, uid: st.uid, gid: st.gid });
  }
  return out;
}

/** POSIX shell quoting of one word. */
export function shq(w: string): string {
  return `'${w.replace(/'/g, `'\\''`)}'`;
}

export function readIfExists(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/**
 * crun's own pty proxy (terminal: true without --console-socket) insists on a terminal as its stdin
 * (tcgetattr). The agent has only pipes, so util-linux `script` provides one: crun runs on script's
 * pty (put in raw mode by crun), the process on the container's own pty, and script relays to our
 * pipes; -e returns the command's exit status.
 */
export function onTerminal(cmd: string[]): [string, string[]] {
  return ['script', ['-q', '-e', '-c', cmd.map(shq).join(' '), '/dev/null']];
}

/** Marker path the host puts on a pid namespace meaning "the pod's shared PID namespace". */
export const POD_PIDNS_MARKER = GUEST_POD_PIDNS;

/**
 * Pod-level namespaces are the VM's own: containers share its network, UTS and IPC. Host namespace
 * paths mean nothing here; the pod PID namespace marker becomes the guest's pod PID namespace.
 */
export function adaptSpec(spec: Record<string, unknown>, rootfs: string, id: string, podPidNs: string | undefined, tty: boolean): Record<string, unknown> {
  const linux = (spec.linux ?? {}) as Record<string, unknown>;
  const nss = (linux.namespaces ?? []) as { type: string; path?: string }[];
  linux.namespaces = nss
    .filter((n) => !['network', 'uts', 'ipc'].includes(n.type))
    .map((n) => (n.type === 'pid' && n.path === POD_PIDNS_MARKER && podPidNs ? { type: 'pid', path: podPidNs } : { type: n.type }));
  // The container's cgroup is a child of a per-container parent the agent owns: crun removes its own
  // cgroup when the container exits, and the parent's hierarchical memory.events still tells whether
  // the kernel OOM-killed it (an OOM can happen between two polls).
  linux.cgroupsPath = `/bulkhead/${id}/ctr`;
  spec.linux = linux;
  spec.root = { path: rootfs, readonly: !!(spec.root as { readonly?: boolean } | undefined)?.readonly };
  const proc = (spec.process ?? {}) as Record<string, unknown>;
  // With a terminal and no --console-socket, crun runs the process on a pty and proxies it to its own
  // stdio (the agent's pipes): output arrives as one stream, in terminal form (CRLF).
  proc.terminal = tty;
  spec.process = proc;
  if (((spec.annotations ?? {}) as Record<string, string>)[GUEST_DEVICES_ANNOTATION] === 'all') linux.devices = guestDevices();
  const mounts = (spec.mounts ?? []) as { destination: string }[];
  for (const f of ['/etc/resolv.conf', '/etc/hosts', '/etc/hostname']) {
    if (!mounts.some((m) => m.destination === f)) mounts.push({ destination: f, type: 'bind', source: f, options: ['rbind', 'ro'] } as never);
  }
  spec.mounts = mounts;
  return spec;
}
