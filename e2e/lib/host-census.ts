// Counts what one daemon holds on the host, so reliability specs can compare before/after:
// mounts and pinned netns under its dirs, pod cgroups, veth/tap devices on its bridge, daemon fds,
// processes naming its dirs (conmon/runc/catatonit/qemu/virtiofsd), host-local IP allocations,
// snapshot/pod/container dirs and disk usage. Only this daemon's things are counted: other
// helpers' daemons run on the same machine.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, lstatSync } from 'node:fs';
import { join } from 'node:path';

export interface CensusTarget {
  /** Daemon root, state and the spec's temp dir (socket, CNI config, ipam, logs). */
  root: string;
  state: string;
  dir: string;
  bridge: string;
  /** The daemon's pid (fd count), when it runs. */
  daemonPid?: number;
  /** The daemon's log: every pod id it ever logged is looked up in the cgroup trees. */
  logFile?: string;
  /** "10.x.y" of the pod subnet: NAT rules (portmap) naming it are counted. */
  subnetPrefix?: string;
}

export type Census = Record<string, number>;

const CGROUP_ROOT = '/sys/fs/cgroup';

function lines(path: string): string[] {
  try {
    return readFileSync(path, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

function countDir(path: string, filter: (n: string) => boolean = () => true): number {
  try {
    return readdirSync(path).filter(filter).length;
  } catch {
    return 0;
  }
}

/** Pod ids (64 hex) the daemon ever logged: its cgroups are /bulkhead/pod-<id16>. */
function loggedPodIds(logFile: string | undefined): Set<string> {
  const ids = new Set<string>();
  if (!logFile || !existsSync(logFile)) return ids;
  for (const m of readFileSync(logFile, 'utf8').matchAll(/"podId":"([0-9a-f]{64})"/g)) ids.add(m[1]!);
  return ids;
}

/** Cgroup directories (any depth) below the pod cgroups of the given ids, over all hierarchies. */
function podCgroups(ids: Set<string>): number {
  let n = 0;
  const walk = (p: string): void => {
    n++;
    for (const e of readdirSync(p, { withFileTypes: true })) if (e.isDirectory()) walk(join(p, e.name));
  };
  for (const h of countDir(CGROUP_ROOT) ? readdirSync(CGROUP_ROOT) : []) {
    const parent = join(CGROUP_ROOT, h, 'bulkhead');
    if (!existsSync(parent)) continue;
    for (const id of ids) {
      const p = join(parent, `pod-${id.slice(0, 16)}`);
      try {
        if (lstatSync(p).isDirectory()) walk(p);
      } catch {
        // absent: fine
      }
    }
  }
  return n;
}

/** Processes whose command line names one of the dirs, or a pod VM of one of the pod ids (QEMU's -name bulkhead-<id12>). */
function processesNaming(dirs: string[], daemonPid: number | undefined, podIds: Set<string>): Record<string, number> {
  const vmNames = [...podIds].map((id) => `bulkhead-${id.slice(0, 12)}`);
  const out: Record<string, number> = { 'procs conmon': 0, 'procs runc': 0, 'procs catatonit': 0, 'procs qemu': 0, 'procs virtiofsd': 0, 'procs other': 0 };
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === daemonPid || Number(p) === process.pid) continue;
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!dirs.some((d) => cmd.includes(d)) && !vmNames.some((n) => cmd.includes(n))) continue;
    const exe = (cmd.split('\0')[0] ?? '').split('/').pop() ?? '';
    const key = exe.startsWith('qemu') ? 'procs qemu' : `procs ${exe}`;
    out[key in out ? key : 'procs other']!++;
  }
  return out;
}

function mountsUnderDirs(dirs: string[]): { all: number; nsfs: number } {
  let all = 0;
  let nsfs = 0;
  for (const l of lines('/proc/self/mountinfo')) {
    const f = l.split(' ');
    const mp = f[4] ?? '';
    if (!dirs.some((d) => mp === d || mp.startsWith(d + '/'))) continue;
    all++;
    const fstype = f[f.indexOf('-') + 1];
    if (fstype === 'nsfs') nsfs++;
  }
  return { all, nsfs };
}

function linksOnBridge(bridge: string): { veth: number; tap: number } {
  let veth = 0;
  let tap = 0;
  try {
    const out = execFileSync('ip', ['-o', '-d', 'link', 'show', 'master', bridge], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    for (const l of out.split('\n').filter(Boolean)) {
      if (/\bveth\b/.test(l)) veth++;
      else if (/\btun\b|\btap\b/.test(l)) tap++;
    }
  } catch {
    // bridge not there (yet / any more)
  }
  return { veth, tap };
}

/** host-local keeps one file per allocated IP (named by the IP) in <dataDir>/<network>/. */
function ipAllocations(ipamDir: string): number {
  let n = 0;
  for (const net of existsSync(ipamDir) ? readdirSync(ipamDir) : []) n += countDir(join(ipamDir, net), (f) => /^\d+\.\d+\.\d+\.\d+$/.test(f) || /^[0-9a-f:]+:[0-9a-f:]*$/.test(f));
  return n;
}

function natRules(subnetPrefix: string | undefined): number {
  if (!subnetPrefix) return 0;
  try {
    const out = execFileSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return out.split('\n').filter((l) => l.includes(`${subnetPrefix}.`)).length;
  } catch {
    return 0;
  }
}

function diskKiB(dirs: string[]): number {
  const present = dirs.filter((d) => existsSync(d));
  if (!present.length) return 0; // du without operands would measure the cwd
  try {
    const out = execFileSync('du', ['-sk', '-x', ...present], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return out.split('\n').filter(Boolean).reduce((s, l) => s + Number(l.split('\t')[0]), 0);
  } catch {
    return 0;
  }
}

export function takeCensus(t: CensusTarget): Census {
  const dirs = [t.root, t.state, t.dir];
  const m = mountsUnderDirs(dirs);
  const links = linksOnBridge(t.bridge);
  const podIds = loggedPodIds(t.logFile);
  const c: Census = {
    mounts: m.all,
    'pinned netns': m.nsfs,
    'pod cgroups': podCgroups(podIds),
    'veth on bridge': links.veth,
    'tap on bridge': links.tap,
    'daemon fds': t.daemonPid ? countDir(`/proc/${t.daemonPid}/fd`) : 0,
    ...processesNaming([t.state, t.root], t.daemonPid, podIds),
    'ip allocations': ipAllocations(join(t.dir, 'ipam')),
    'nat rules (subnet)': natRules(t.subnetPrefix),
    'snapshot dirs': countDir(join(t.root, 'snapshots'), (n) => /^\d+$/.test(n)),
    'pod dirs (root)': countDir(join(t.root, 'pods')),
    'pod dirs (state)': countDir(join(t.state, 'pods')),
    'container dirs': countDir(join(t.root, 'containers')),
    'exit files': countDir(join(t.state, 'exits')),
    // <root>/guest is the micro-VM guest image cache (built once in the background), not per-pod state
    'disk KiB (root+state, no logs)': diskKiB([t.root, t.state]) - diskKiB([join(t.root, 'guest')]),
    'log KiB': diskKiB([join(t.dir, 'logs')]),
  };
  return c;
}

/** Allowed growth per key (anything not listed must be equal). */
export type Tolerance = Partial<Record<string, number>>;

export const DEFAULT_TOLERANCE: Tolerance = {
  'daemon fds': 8, // grpc/http2 sockets and watchers come and go
  'disk KiB (root+state, no logs)': 128, // 4 KiB per cycle (one leaked dir) must not slip through
  'log KiB': Number.POSITIVE_INFINITY,
};

/** Keys whose `after` exceeds `before` by more than the tolerance (or dropped below it for counts). */
export function censusLeaks(before: Census, after: Census, tol: Tolerance = DEFAULT_TOLERANCE): string[] {
  const bad: string[] = [];
  for (const k of Object.keys(before)) {
    const allowed = tol[k] ?? 0;
    const d = (after[k] ?? 0) - (before[k] ?? 0);
    if (d > allowed) bad.push(`${k}: ${before[k]} → ${after[k]}`);
  }
  return bad;
}

export function censusTable(title: string, before: Census, after: Census): string {
  const w = Math.max(...Object.keys(before).map((k) => k.length));
  const rows = Object.keys(before).map((k) => `  ${k.padEnd(w)}  ${String(before[k]).padStart(8)}  ${String(after[k]).padStart(8)}  ${(after[k]! - before[k]! >= 0 ? '+' : '') + String(after[k]! - before[k]!)}`);
  return [`${title}`, `  ${'resource'.padEnd(w)}  ${'before'.padStart(8)}  ${'after'.padStart(8)}  delta`, ...rows].join('\n');
}

/** `du` of the biggest directories below the daemon's dirs, for diagnosing a disk leak. */
export function diskBreakdown(t: CensusTarget, depth = 3): string {
  try {
    const out = execFileSync('du', ['-k', '-x', `--max-depth=${depth}`, t.root, t.state], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return out
      .split('\n')
      .filter(Boolean)
      .sort((a, b) => Number(b.split('\t')[0]) - Number(a.split('\t')[0]))
      .slice(0, 15)
      .join('\n') + '\n' + execFileSync('find', [t.state, '-maxdepth', '3'], { encoding: 'utf8' }).split('\n').slice(0, 30).join('\n');
  } catch {
    return '';
  }
}
