// Mounts of a container spec: the standard pseudo-filesystems, the sandbox's prepared files
// (/etc/hosts, /etc/hostname, /etc/resolv.conf, /dev/shm), and the CRI mounts with their
// propagation and read-only flavours. Destinations are sorted by depth so parents mount first.
import { existsSync, mkdirSync, realpathSync } from 'node:fs';
import { posix } from 'node:path';
import type * as cri from '../api/cri-types.js';
import { errnoCode, invalidArgument } from '../errors/errors.js';
import { mountOf, readSelfMountInfo, type MountInfoReader } from './mount-propagation.js';
import type { OciMount } from './spec-types.js';

export function defaultMounts(opts: { privileged: boolean; shmPath?: string }): OciMount[] {
  const sysOpts = ['nosuid', 'noexec', 'nodev', opts.privileged ? 'rw' : 'ro'];
  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: sysOpts },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', opts.privileged ? 'rw' : 'ro'] },
  ];
  mounts.push(
    opts.shmPath
      ? { destination: '/dev/shm', type: 'bind', source: opts.shmPath, options: ['rbind', 'rprivate', 'nosuid', 'nodev', 'noexec', 'rw'] }
      : { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
  );
  return mounts;
}

/** Binds of files the sandbox prepared; readonly follows readonly_rootfs like containerd. */
export function sandboxFileMounts(files: { hostsPath?: string; hostnamePath?: string; resolvConfPath?: string }, readonly: boolean): OciMount[] {
  const out: OciMount[] = [];
  const add = (destination: string, source?: string) => {
    if (source) out.push({ destination, type: 'bind', source, options: ['rbind', 'rprivate', readonly ? 'ro' : 'rw'] });
  };
  add('/etc/hostname', files.hostnamePath);
  add('/etc/hosts', files.hostsPath);
  add('/etc/resolv.conf', files.resolvConfPath);
  return out;
}

export interface CriMountsResult {
  mounts: OciMount[];
  /** "rslave"/"rshared" when a mount needs propagation from/to the host; undefined = runc default. */
  rootfsPropagation?: string;
}

function propagationOption(p: cri.MountPropagation__Output): string {
  switch (p) {
    case 'PROPAGATION_HOST_TO_CONTAINER':
      return 'rslave';
    case 'PROPAGATION_BIDIRECTIONAL':
      return 'rshared';
    default:
      return 'rprivate';
  }
}

export function criMounts(list: cri.Mount__Output[], readMountInfo: MountInfoReader = readSelfMountInfo): CriMountsResult {
  const mounts: OciMount[] = [];
  let rootfsPropagation: string | undefined;
  let mountInfo: ReturnType<MountInfoReader> | undefined;
  const seen = new Set<string>();
  for (const m of list) {
    // Image volumes (KEP-4639) need the image store: not supported by this builder, skipped.
    if (m.image && m.image.image !== '') continue;
    const dest = m.container_path;
    if (!dest || !dest.startsWith('/')) throw invalidArgument(`mount container_path "${dest}" must be an absolute path`);
    const destination = posix.normalize(dest);
    if (seen.has(destination)) throw invalidArgument(`duplicate mount destination ${destination}`);
    seen.add(destination);
    if (!m.host_path || !m.host_path.startsWith('/')) throw invalidArgument(`mount host_path "${m.host_path}" for ${dest} must be an absolute path`);
    // Like containerd and CRI-O (and kubelet hostPath volumes of type ""): create a missing
    // source directory rather than fail; a symlinked source mounts its target.
    if (!existsSync(m.host_path)) {
      try {
        mkdirSync(m.host_path, { recursive: true, mode: 0o755 });
      } catch (e) {
        throw invalidArgument(`mount host_path ${m.host_path} does not exist and cannot be created: ${errnoCode(e) ?? String(e)}`);
      }
    }
    let source: string;
    try {
      source = realpathSync(m.host_path);
    } catch (e) {
      throw invalidArgument(`mount host_path ${m.host_path}: ${errnoCode(e) ?? String(e)}`);
    }
    const propagation = propagationOption(m.propagation);
    if (m.recursive_read_only) {
      if (!m.readonly) throw invalidArgument(`recursive_read_only mount ${dest} must also be readonly`);
      if (propagation !== 'rprivate') throw invalidArgument(`recursive_read_only mount ${dest} must have PROPAGATION_PRIVATE`);
    }
    if (propagation !== 'rprivate') {
      mountInfo ??= readMountInfo();
      const info = mountOf(source, mountInfo);
      if (propagation === 'rshared') {
        if (!info?.shared) throw invalidArgument(`path "${source}" is mounted on "${info?.mountPoint ?? '?'}" but it is not a shared mount (needed for PROPAGATION_BIDIRECTIONAL)`);
        rootfsPropagation = 'rshared';
      } else {
        if (!info?.shared && !info?.slave) throw invalidArgument(`path "${source}" is mounted on "${info?.mountPoint ?? '?'}" but it is not a shared or slave mount (needed for PROPAGATION_HOST_TO_CONTAINER)`);
        if (rootfsPropagation !== 'rshared') rootfsPropagation = 'rslave';
      }
    }
    const options = ['rbind', propagation, m.readonly ? 'ro' : 'rw'];
    if (m.recursive_read_only) options.push('rro');
    // selinux_relabel: checked by checkSelinux (pkg/oci/selinux.ts): refused where SELinux is enabled.
    mounts.push({ destination, type: 'bind', source, options });
  }
  return { mounts, ...(rootfsPropagation ? { rootfsPropagation } : {}) };
}

const depth = (p: string) => posix.normalize(p).split('/').filter((s) => s !== '').length;

/**
 * Default mounts, then sandbox files, then CRI mounts; a later mount at the same destination
 * replaces an earlier one, a CRI /dev replaces everything under /dev, and the result is stably
 * sorted by destination depth.
 */
export function mergeMounts(defaults: OciMount[], sandboxFiles: OciMount[], user: OciMount[]): OciMount[] {
  const userDests = new Set(user.map((m) => posix.normalize(m.destination)));
  const keep = (m: OciMount) => {
    const d = posix.normalize(m.destination);
    if (userDests.has(d)) return false;
    if (userDests.has('/dev') && d.startsWith('/dev/')) return false;
    return true;
  };
  const all = [...defaults.filter(keep), ...sandboxFiles.filter(keep), ...user];
  return all
    .map((m, i) => ({ m, i }))
    .sort((a, b) => depth(a.m.destination) - depth(b.m.destination) || a.i - b.i)
    .map(({ m }) => m);
}
