// Local, read-only checks behind `bulkhead status`: what each runtime handler would find on this
// host (binaries and versions, cgroup layout, accelerator, guest image) and whether CNI is ready.
// They work without the daemon, so a newcomer sees what is missing even before it starts.
import { readdirSync, readFileSync, statSync, statfsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { basename, join } from 'node:path';
import type { Config, HandlerConfig } from '../config/schema.js';
import { which } from '../sys/which.js';
import { cniConfigFiles } from '../cri/basic-status.js';
// Accelerator detection is the vm subsystem's own (pkg/vm/accelerator.ts), so status says what the VM launcher will do.
import { chooseAccelerator, hostProbe, type AccelChoice, type AccelProbe } from '../vm/accelerator.js';

const CGROUP2_MAGIC = 0x63677270;

export type CgroupMode = 'v1' | 'hybrid' | 'v2' | 'unknown';

/** v2: /sys/fs/cgroup is cgroup2; hybrid: v1 controllers plus cgroup2 at /sys/fs/cgroup/unified; v1: no cgroup2. */
export function cgroupMode(base = '/sys/fs/cgroup'): CgroupMode {
  const fsType = (p: string): number | undefined => {
    try {
      return statfsSync(p).type;
    } catch {
      return undefined;
    }
  };
  const top = fsType(base);
  if (top === undefined) return 'unknown';
  if (top === CGROUP2_MAGIC) return 'v2';
  return fsType(join(base, 'unified')) === CGROUP2_MAGIC ? 'hybrid' : 'v1';
}

/** First line of `<bin> --version` (e.g. "runc version 1.1.5+ds1"), or undefined if it fails. */
export function binaryVersion(path: string): string | undefined {
  const r = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 3000 });
  if (r.status !== 0) return undefined;
  return r.stdout.split('\n')[0]?.trim() || undefined;
}

/** "runc version 1.1.5+ds1" → "1.1.5+ds1"; "QEMU emulator version 7.2.22 (Debian ...)" → "7.2.22". */
export function versionNumber(line: string | undefined): string | undefined {
  return line ? /version\s+(\S+)/i.exec(line)?.[1] : undefined;
}

export interface BinaryCheck {
  name: string;
  path?: string;
  version?: string;
}

function checkBinary(name: string, extraDirs: string[] = []): BinaryCheck {
  const path = which(name, extraDirs);
  return { name, ...(path ? { path, version: versionNumber(binaryVersion(path)) } : {}) };
}

export interface GuestImage {
  stamp: string;
  dir: string;
  kernel_release?: string;
  built?: string;
}

/** Guest images built by deploy/guest/build-guest.sh: <root>/guest/<stamp>/{stamp,manifest.json,...}, newest first. */
export function guestImages(root: string): GuestImage[] {
  const guest = join(root, 'guest');
  let names: string[];
  try {
    names = readdirSync(guest);
  } catch {
    return [];
  }
  const out: (GuestImage & { mtime: number })[] = [];
  for (const n of names) {
    const g = guestImageDir(join(guest, n));
    if (g) out.push(g); // else not an image dir (cache, partial build)
  }
  return out.sort((a, b) => b.mtime - a.mtime).map(({ mtime: _m, ...g }) => g);
}

/** One guest image directory (build-guest.sh's output: stamp + manifest.json), or undefined. */
function guestImageDir(dir: string): (GuestImage & { mtime: number }) | undefined {
  try {
    const stamp = readFileSync(join(dir, 'stamp'), 'utf8').trim();
    let kernel_release: string | undefined;
    try {
      kernel_release = (JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { kernel_release?: string }).kernel_release;
    } catch {
      /* manifest optional */
    }
    const st = statSync(join(dir, 'stamp'));
    return { stamp, dir, kernel_release, built: st.mtime.toISOString(), mtime: st.mtimeMs };
  } catch {
    return undefined;
  }
}

export interface HandlerReport {
  name: string;
  kind: HandlerConfig['kind'];
  default: boolean;
  /** Usable as configured on this host. */
  ok: boolean;
  /** One line: what was found. */
  summary: string;
  problems: string[];
  runtime?: BinaryCheck;
  monitor?: BinaryCheck;
  qemu?: BinaryCheck;
  accelerator?: AccelChoice;
  guest?: { images: GuestImage[]; kernel_path?: string };
}

export interface HostFacts {
  cgroupMode: CgroupMode;
  kernel: string;
  probe: AccelProbe;
}

export function hostFacts(probe: AccelProbe = hostProbe): HostFacts {
  let kernel = '';
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    /* not Linux? */
  }
  return { cgroupMode: cgroupMode(), kernel, probe };
}

export function checkHandler(name: string, h: HandlerConfig, config: Config, host: HostFacts): HandlerReport {
  const base = { name, kind: h.kind, default: name === config.default_runtime_handler };
  const problems: string[] = [];
  if (h.kind === 'oci') {
    const runtime = checkBinary(h.runtime_path);
    const monitor = checkBinary(h.monitor_path);
    if (!runtime.path) problems.push(`${h.runtime_path} not found`);
    if (!monitor.path) problems.push(`${h.monitor_path} not found`);
    // crun (1.8) refuses hybrid layouts: "cgroups in hybrid mode not supported, drop all controllers from cgroupv2".
    if (runtime.path && basename(h.runtime_path).startsWith('crun') && host.cgroupMode === 'hybrid') {
      problems.push('crun: unusable on hybrid cgroups');
    }
    const found = runtime.path ? `${basename(runtime.path)} ${runtime.version ?? '(version unknown)'} (${runtime.path})` : `${h.runtime_path} missing`;
    const mon = monitor.path ? `${basename(monitor.path)} ${monitor.version ?? ''}`.trim() : `${h.monitor_path} missing`;
    return { ...base, ok: problems.length === 0, summary: `${found}, ${mon}`, problems, runtime, monitor };
  }
  const qemu = checkBinary(h.qemu_path);
  if (!qemu.path) problems.push(`${h.qemu_path} not found`);
  let accelerator: AccelChoice;
  try {
    accelerator = chooseAccelerator(h.accelerator, h.kernel_path, host.probe);
  } catch (e) {
    // A forced accelerator this host cannot provide: the launcher refuses it too.
    problems.push((e as Error).message);
    accelerator = { accel: h.accelerator === 'tcg' ? 'tcg' : 'kvm', reason: 'unusable as configured' };
  }
  // The image the handler boots: a prebuilt guest_image as is, else the newest build under its guest
  // root (guest_root, default the daemon root), as pkg/runtime/vm/vm-booter.ts picks them.
  const guestRoot = h.guest_root ?? config.root;
  let images: GuestImage[];
  if (h.guest_image) {
    const g = guestImageDir(h.guest_image);
    images = g ? [(({ mtime: _m, ...rest }) => rest)(g)] : [];
  } else {
    images = guestImages(guestRoot);
  }
  let kernelOk = true;
  if (h.kernel_path) {
    try {
      statSync(h.kernel_path);
    } catch {
      kernelOk = false;
      problems.push(`kernel_path ${h.kernel_path} missing`);
    }
  } else if (images.length === 0) {
    problems.push(
      h.guest_image
        ? `guest_image ${h.guest_image} is not a guest image (no stamp: copy deploy/guest/build-guest.sh's output dir there)`
        : `no guest image in ${join(guestRoot, 'guest')} (build it: deploy/guest/build-guest.sh ${guestRoot})`,
    );
  }
  const accel = `${accelerator.accel.toUpperCase()} (${accelerator.reason})`;
  const guest = h.kernel_path
    ? `kernel ${h.kernel_path}${kernelOk ? '' : ' MISSING'}`
    : images[0]
      ? `guest ${images[0].stamp}${images[0].kernel_release ? ` (kernel ${images[0].kernel_release})` : ''}`
      : 'no guest image';
  const q = qemu.path ? `qemu ${qemu.version ?? '(version unknown)'}` : `${h.qemu_path} missing`;
  return {
    ...base,
    ok: problems.length === 0,
    summary: `${q}; ${accel}; ${guest}; pool ${h.pool_size}`,
    problems,
    qemu,
    accelerator,
    guest: { images, ...(h.kernel_path ? { kernel_path: h.kernel_path } : {}) },
  };
}

export interface CniReport {
  ready: boolean;
  conf_dir: string;
  /** The file CNI would use (the first in lexical order, as libcni does). */
  file?: string;
  network?: string;
  plugins: BinaryCheck[];
  problems: string[];
}

export function checkCni(config: Config): CniReport {
  const { conf_dir, bin_dirs } = config.cni;
  const files = cniConfigFiles(conf_dir);
  if (files.length === 0) return { ready: false, conf_dir, plugins: [], problems: [`no CNI config file (*.conf, *.conflist) in ${conf_dir}`] };
  const file = files[0]!;
  const problems: string[] = [];
  let network: string | undefined;
  let types: string[] = [];
  try {
    const doc = JSON.parse(readFileSync(join(conf_dir, file), 'utf8')) as { name?: string; type?: string; plugins?: { type?: string }[] };
    network = doc.name;
    types = (doc.plugins ?? [doc]).map((p) => p.type).filter((t): t is string => typeof t === 'string');
    if (types.length === 0) problems.push(`${file}: no plugin types`);
  } catch (e) {
    problems.push(`${file}: ${(e as Error).message}`);
  }
  const plugins = types.map((t) => {
    for (const d of bin_dirs) {
      const p = which(join(d, t));
      if (p) return { name: t, path: p };
    }
    problems.push(`plugin ${t} not found in ${bin_dirs.join(':')}`);
    return { name: t };
  });
  return { ready: problems.length === 0, conf_dir, file, ...(network ? { network } : {}), plugins, problems };
}
