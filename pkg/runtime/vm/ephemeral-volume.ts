// Which bind mounts of a container are kubelet emptyDir volumes of medium Memory, to be made as a
// tmpfs in guest RAM rather than shared from the host over virtio-fs (Kata's "ephemeral" storage):
// through virtio-fs the container would see a `virtiofs` file system, not the tmpfs kubelet made,
// and its writes would land in host RAM outside the pod VM. kubelet says nothing about the medium
// in the CRI, so, as Kata does, we read it from the host: a bind source at
// <kubelet root>/pods/<uid>/volumes/kubernetes.io~empty-dir/<name> that is itself a tmpfs
// (kubelet mounts one there, sized by sizeLimit or the pod's memory, mode 0777). Unlike Kata we also
// ask for a tmpfs mounted at that very dir (another device than its parent's): with the kubelet dir
// itself on a tmpfs, a disk-medium emptyDir is a plain dir there and must stay a share. A subPath into
// such a volume is kubelet's bind of a dir inside it at .../pods/<uid>/volume-subpaths/<name>/...:
// mountinfo says which dir (the bind's root within the tmpfs).
import { readFileSync, statfsSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { EPHEMERAL_NAME_RE } from '../../vmchannel/protocol.js';

/** statfs f_type of tmpfs (linux/magic.h). */
export const TMPFS_MAGIC = 0x01021994;
const EMPTY_DIR_PLUGIN = 'kubernetes.io~empty-dir';

/** A guest-RAM volume as the agent makes it: one per (pod, name). */
export interface EphemeralVolume {
  name: string;
  /** The host tmpfs's size in bytes (0: unlimited). */
  sizeBytes: number;
  /** Permission bits of its root on the host (setgid with an fsGroup). */
  mode: number;
  /** Owner of its root on the host (gid: the pod's fsGroup, when it has one). */
  uid: number;
  gid: number;
}

/** A bind source served from a guest-RAM volume: the volume, and the path inside it ('' = its root). */
export interface EphemeralSource {
  volume: EphemeralVolume;
  rel: string;
}

/** What the probe reads from the host (fakes in tests). */
export interface HostFs {
  statfs(path: string): { type: number; bsize: number; blocks: number };
  /** stat: dev (a mount point's differs from its parent dir's unless it is a bind of the same fs), permission bits, owner. */
  stat(path: string): { dev: number; mode: number; uid: number; gid: number };
  mountinfo(): string;
}

const nodeFs: HostFs = {
  statfs: (p) => statfsSync(p),
  stat: (p) => statSync(p),
  mountinfo: () => readFileSync('/proc/self/mountinfo', 'utf8'),
};

/** The emptyDir volume a kubelet-shaped path names: its volume dir and name, or undefined. Pure. */
export function emptyDirOf(source: string): { volumeDir: string; name: string; subPath: boolean } | undefined {
  if (!posix.isAbsolute(source)) return undefined;
  const p = posix.normalize(source).replace(/\/+$/, '').split('/');
  const n = p.length;
  // .../pods/<uid>/volumes/kubernetes.io~empty-dir/<name>
  if (n >= 6 && p[n - 2] === EMPTY_DIR_PLUGIN && p[n - 3] === 'volumes' && p[n - 5] === 'pods' && EPHEMERAL_NAME_RE.test(p[n - 1]!)) {
    return { volumeDir: p.join('/'), name: p[n - 1]!, subPath: false };
  }
  // .../pods/<uid>/volume-subpaths/<name>/<container>/<mount index>
  if (n >= 7 && p[n - 4] === 'volume-subpaths' && p[n - 6] === 'pods' && EPHEMERAL_NAME_RE.test(p[n - 3]!)) {
    const name = p[n - 3]!;
    return { volumeDir: [...p.slice(0, n - 4), 'volumes', EMPTY_DIR_PLUGIN, name].join('/'), name, subPath: true };
  }
  return undefined;
}

/** mountinfo's "\040"-style escapes undone. */
const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** The last mount at mountPoint (the one on top): its device and root within that device. */
function mountAt(mountinfo: string, mountPoint: string): { dev: string; root: string } | undefined {
  let found: { dev: string; root: string } | undefined;
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    if (f.length > 4 && unescape(f[4]!) === mountPoint) found = { dev: f[2]!, root: unescape(f[3]!) };
  }
  return found;
}

/**
 * The guest-RAM volume behind a bind source, or undefined when it is anything else (then it goes
 * through virtio-fs as before). Only kubelet-shaped paths are probed; a probe that fails (the path
 * vanished) answers undefined too, and the share's bind reports the error.
 */
export function probeEphemeral(source: string, fs: HostFs = nodeFs): EphemeralSource | undefined {
  const ed = emptyDirOf(source);
  if (!ed) return undefined;
  try {
    const st = fs.statfs(ed.volumeDir);
    if (st.type !== TMPFS_MAGIC) return undefined;
    const root = fs.stat(ed.volumeDir);
    if (root.dev === fs.stat(posix.dirname(ed.volumeDir)).dev) return undefined;
    const volume = { name: ed.name, sizeBytes: st.blocks * st.bsize, mode: root.mode & 0o7777, uid: root.uid, gid: root.gid };
    if (!ed.subPath) return { volume, rel: '' };
    // kubelet bind-mounts the subPath's dir at the source; it must be a bind of this very tmpfs
    // (same device as the volume's mount), whose root within it is the subPath.
    const info = fs.mountinfo();
    const vol = mountAt(info, ed.volumeDir);
    const sub = mountAt(info, posix.normalize(source).replace(/\/+$/, ''));
    if (!vol || !sub || sub.dev !== vol.dev || vol.root !== '/' || sub.root.endsWith('//deleted')) return undefined;
    const rel = posix.normalize(sub.root).replace(/^\/+|\/+$/g, '');
    if (rel.split('/').includes('..')) return undefined;
    return { volume, rel };
  } catch {
    return undefined; // not probeable (removed meanwhile): shared as a plain volume, whose bind then says why it fails
  }
}
