// Pod namespaces pinned to files, without an infra ("pause") process (CRI-O's pinns idea).
// util-linux unshare creates the namespaces and bind-mounts them onto our files itself; the
// short-lived child it runs does the in-namespace setup (hostname, sysctls, lo up) and exits.
// Net/IPC/UTS ns files need no special mount propagation (only mount-ns files do).
import { mkdir, open, readFile, rmdir, unlink } from 'node:fs/promises';
import { runInNewUserNamespace, type UserNamespaceMapping } from './user-namespace-pin.js';
import { dirname, join, resolve } from 'node:path';
import { alreadyExists, invalidArgument } from '../errors/errors.js';
import { detachIfMountedAsync } from '../sys/mount-async.js';
import { execFileResult, type ExecResult } from '../sys/exec-file.js';

export interface PodNamespaceRequest {
  /** Directory for the ns files, e.g. <state>/pods/<podId>/ns. Created if missing. */
  dir: string;
  net: boolean;
  ipc: boolean;
  uts: boolean;
  /** Set in the new UTS namespace; ignored when uts is false (never touches the host's). */
  hostname?: string;
  /** Namespaced sysctls (net.* → netns; kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.* → IPC ns). */
  sysctls: Record<string, string>;
  /**
   * A new user namespace with these mappings, created first so that it owns the net/ipc/uts
   * namespaces (the pod's root can then administer them and mount sysfs and mqueue).
   */
  user?: UserNamespaceMapping;
}

/** Paths of the pinned namespace files (only for the namespaces that were created). */
export interface PodNamespaces {
  net?: string;
  ipc?: string;
  uts?: string;
  user?: string;
}

type NsKind = 'net' | 'ipc' | 'uts';
const KINDS: NsKind[] = ['net', 'ipc', 'uts'];
type PinnedKind = NsKind | 'user';
const PINNED_KINDS: PinnedKind[] = ['user', ...KINDS];

/** Which namespace a sysctl lives in, or undefined when it is not namespaced (host-wide). */
export function sysctlNamespace(key: string): NsKind | undefined {
  const k = key.replace(/\//g, '.');
  if (k.startsWith('net.')) return 'net';
  if (/^kernel\.(shm[a-z_]*|msg[a-z_]*|sem[a-z_]*)$/.test(k) || k.startsWith('fs.mqueue.')) return 'ipc';
  if (k === 'kernel.hostname' || k === 'kernel.domainname') return 'uts';
  return undefined;
}

/** /proc/sys-relative path of a sysctl key: "net.ipv4.ping_group_range" or "net/ipv4/conf/eth0.1/rp_filter". */
export function sysctlPath(key: string): string {
  if (!/^[A-Za-z0-9_.\/-]+$/.test(key)) throw invalidArgument(`sysctl "${key}": invalid name`);
  const path = key.includes('/') ? key : key.replace(/\./g, '/');
  if (path.split('/').some((seg) => seg === '' || seg === '.' || seg === '..')) throw invalidArgument(`sysctl "${key}": invalid name`);
  return path;
}

function validate(req: PodNamespaceRequest): { path: string; key: string; value: string }[] {
  const writes: { path: string; key: string; value: string }[] = [];
  if (req.uts && req.hostname) {
    // __NEW_UTS_LEN is 64; kubelet limits pod hostnames to 63 anyway.
    if (req.hostname.length > 64 || /[\s\0\/]/.test(req.hostname)) throw invalidArgument(`invalid hostname "${req.hostname}"`);
    writes.push({ path: 'kernel/hostname', key: 'kernel.hostname', value: req.hostname });
  }
  for (const [key, value] of Object.entries(req.sysctls)) {
    const ns = sysctlNamespace(key);
    if (!ns) throw invalidArgument(`sysctl "${key}" is not namespaced: refusing to change the host`);
    if (!req[ns]) throw invalidArgument(`sysctl "${key}" needs a pod ${ns} namespace, but the pod shares the host's`);
    if (value.includes('\0')) throw invalidArgument(`sysctl "${key}": invalid value`);
    writes.push({ path: sysctlPath(key), key, value });
  }
  return writes;
}

// Runs inside the new namespaces: "$@" is pairs of (proc/sys path, value), then lo is brought up.
// In a user-namespace pod it runs as that namespace's root, for whom the host's /proc/sys/kernel/
// hostname (a global-root 0644 file) is read-only: sethostname(2) through hostname(1) then, which
// needs only CAP_SYS_ADMIN over the UTS namespace.
const SETUP_SCRIPT = `
set -u
up_lo=$1; shift
while [ $# -gt 1 ]; do
  if ! printf '%s' "$2" > "/proc/sys/$1" && ! { [ "$1" = kernel/hostname ] && hostname "$2"; }; then
    echo "sysctl-failed $1" >&2; exit 33
  fi
  shift 2
done
if [ "$up_lo" = 1 ]; then ip link set lo up || exit 34; fi
exit 0
`;

export async function createPodNamespaces(req: PodNamespaceRequest): Promise<PodNamespaces> {
  const writes = validate(req);
  const wanted: PinnedKind[] = KINDS.filter((k) => req[k]);
  if (req.user) wanted.unshift('user');
  if (wanted.length === 0) return {};
  const dir = resolve(req.dir);
  await mkdir(dir, { recursive: true, mode: 0o711 });
  const created: PodNamespaces = {};
  try {
    for (const kind of wanted) {
      const file = join(dir, kind);
      try {
        await (await open(file, 'wx', 0o444)).close();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw alreadyExists(`namespace file ${file} already exists`);
        throw e;
      }
      created[kind] = file;
    }
    const setup = ['/bin/sh', '-c', SETUP_SCRIPT, 'bulkhead-ns-setup', req.net ? '1' : '0'];
    for (const w of writes) setup.push(w.path, w.value);
    let r: ExecResult;
    if (req.user) {
      // The namespaces are made, mapped and pinned first (user-namespace-pin.ts); the setup then
      // runs through nsenter, which becomes the namespace's uid 0: IPC sysctls (kernel.shm*)
      // are writable only by the owning user namespace's root uid, not by its capabilities.
      const pin = await runInNewUserNamespace(wanted.map((k) => `--${k}`), req.user, created, 30_000);
      if (pin.code !== 0) throw new Error(`creating pod namespaces (unshare ${wanted.join(',')}) failed: exit ${pin.code ?? pin.signal}: ${pin.stderr.trim()}`);
      r = await execFileResult('nsenter', [...wanted.map((k) => `--${k}=${created[k]!}`), '--', ...setup], { timeoutMs: 30_000 });
    } else {
      r = await execFileResult('unshare', [...wanted.map((k) => `--${k}=${created[k]!}`), '--', ...setup], { timeoutMs: 30_000 });
    }
    if (r.code !== 0) {
      const failed = /sysctl-failed (\S+)/.exec(r.stderr)?.[1];
      if (r.code === 33 && failed) {
        const w = writes.find((x) => x.path === failed);
        const reason = r.stderr.replace(/.*sysctl-failed.*\n?/, '').trim();
        throw invalidArgument(`setting ${w?.key ?? failed}=${w?.value ?? ''} in the pod namespace failed: ${reason || 'write error'}`);
      }
      throw new Error(`creating pod namespaces (unshare ${wanted.join(',')}) failed: exit ${r.code ?? r.signal}: ${r.stderr.trim()}`);
    }
    return created;
  } catch (e) {
    await removePodNamespaces(created).catch(() => {}); // rolling back a failed create: the original error is rethrown below
    throw e;
  }
}

/** Unmounts (lazily) and unlinks the pinned files, then the directory if empty. Idempotent. */
export async function removePodNamespaces(ns: PodNamespaces): Promise<void> {
  const dirs = new Set<string>();
  for (const kind of PINNED_KINDS) {
    const file = ns[kind];
    if (!file) continue;
    // A file can carry stacked mounts (e.g. a retried pin); peel them all.
    for (let i = 0; i < 8 && (await detachIfMountedAsync(file)); i++);
    await unlink(file).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
    dirs.add(dirname(file));
  }
  for (const d of dirs) await rmdir(d).catch(() => {}); // a dir still in use by another pod stays (ENOTEMPTY/EBUSY)
}

/** Decodes mountinfo's octal escapes (\040 for space etc). */
function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Namespace files (nsfs mounts) pinned at or under rootDir, from this process's mount table. */
export async function listPinnedNamespaces(rootDir: string): Promise<string[]> {
  const root = resolve(rootDir);
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const out: string[] = [];
  for (const line of info.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const mountPoint = unescapeMountinfo(left.split(' ')[4] ?? '');
    if (right.split(' ')[0] !== 'nsfs') continue;
    if (mountPoint === root || mountPoint.startsWith(root + '/')) out.push(mountPoint);
  }
  return [...new Set(out)].sort();
}
