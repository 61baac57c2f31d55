// The pod's guest-RAM volumes (CreateContainer ephemeral_volumes: kubelet emptyDirs of medium
// Memory, pkg/runtime/vm/ephemeral-volume.ts): one tmpfs per volume name at
// GUEST_EPHEMERAL_DIR/<name>, mounted by the first container that names it and bound by crun into
// every container whose spec points there, so the pod's containers share it and a restarted container
// finds its files again, as kubelet's tmpfs on a runc node. It lives as long as the VM, i.e. the pod.
// The host's word is checked as any input: the name is one path component, the size is bounded by
// guest RAM, the mode is permission bits, and spec sources under the dir must name a mounted volume;
// a subPath dir is made without following symlinks a container may have planted in the volume.
import { chmodSync, lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { EphemeralVolume__Output } from '../../api/gen/agent/bulkhead/agent/v1/EphemeralVolume.js';
import { AgentError, Code } from '../vmchannel/codec.js';
import { EPHEMERAL_NAME_RE, GUEST_EPHEMERAL_DIR } from '../vmchannel/protocol.js';
import { run } from './exec-file.js';
import { isMounted } from './guest-system.js';

/** Volumes per pod: far above what pods declare, low enough that a runaway host cannot pile up mounts. */
export const MAX_EPHEMERAL_VOLUMES = 64;

/** The guest operations (fakes in tests). */
export interface EphemeralHost {
  isMounted(path: string): boolean;
  mountTmpfs(path: string, v: Wanted): Promise<void>;
  memTotalBytes(): bigint;
  /** Permission bits of path (the volume root: subPath dirs get them, as kubelet's SafeMakeDir). */
  mode(path: string): number;
  /** What lstat finds at path (never following a symlink). */
  kind(path: string): 'symlink' | 'dir' | 'other' | 'missing';
  /** mkdir of one component with exactly mode (umask aside). */
  mkdir(path: string, mode: number): void;
}

const guestHost: EphemeralHost = {
  isMounted,
  async mountTmpfs(path, v) {
    mkdirSync(GUEST_EPHEMERAL_DIR, { recursive: true, mode: 0o700 });
    mkdirSync(path, { recursive: true, mode: 0o700 });
    // No nosuid/nodev/noexec: kubelet's own tmpfs for the volume has none either.
    const opts = `size=${v.sizeBytes},mode=${v.mode.toString(8).padStart(4, '0')},uid=${v.uid},gid=${v.gid}`;
    await run('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', path]);
  },
  memTotalBytes() {
    const kb = /^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1];
    if (!kb) throw new AgentError(Code.Internal, 'no MemTotal in /proc/meminfo');
    return BigInt(kb) * 1024n;
  },
  mode: (p) => lstatSync(p).mode & 0o7777,
  kind(p) {
    try {
      const st = lstatSync(p);
      return st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'other';
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
      throw e;
    }
  },
  mkdir(p, mode) {
    mkdirSync(p, { mode });
    chmodSync(p, mode);
  },
};

/** A volume as the agent mounts it. */
export interface Wanted {
  name: string;
  sizeBytes: bigint;
  mode: number;
  uid: number;
  gid: number;
}

/** The request's volumes checked: bad input is InvalidArgument, the size is bounded by guest RAM. */
export function checkEphemeralVolumes(vols: readonly EphemeralVolume__Output[], memTotal: bigint): Wanted[] {
  if (vols.length > MAX_EPHEMERAL_VOLUMES) throw new AgentError(Code.InvalidArgument, `${vols.length} guest-RAM volumes (at most ${MAX_EPHEMERAL_VOLUMES})`);
  return vols.map((v) => {
    if (!EPHEMERAL_NAME_RE.test(v.name)) throw new AgentError(Code.InvalidArgument, `bad guest-RAM volume name ${JSON.stringify(v.name)}`);
    if (!/^\d{1,20}$/.test(v.size_bytes)) throw new AgentError(Code.InvalidArgument, `guest-RAM volume ${v.name}: bad size ${JSON.stringify(v.size_bytes)}`);
    if (!Number.isInteger(v.mode) || v.mode < 0 || v.mode > 0o7777) throw new AgentError(Code.InvalidArgument, `guest-RAM volume ${v.name}: bad mode ${v.mode}`);
    // uint32 on the wire; (uid_t)-1 means "unchanged" to the kernel, not an owner.
    for (const id of [v.uid, v.gid]) if (!Number.isInteger(id) || id < 0 || id >= 0xffffffff) throw new AgentError(Code.InvalidArgument, `guest-RAM volume ${v.name}: bad owner ${v.uid}:${v.gid}`);
    const size = BigInt(v.size_bytes);
    // 0 is an unlimited host tmpfs (kubelet sizes it by node memory without a limit): a tmpfs can
    // never hold more than the guest's RAM, so that is the bound either way.
    return { name: v.name, sizeBytes: size === 0n || size > memTotal ? memTotal : size, mode: v.mode || 0o777, uid: v.uid, gid: v.gid };
  });
}

export class EphemeralVolumes {
  /** Mounts in progress, by name: two creates naming the same new volume mount it once. */
  private readonly pending = new Map<string, Promise<void>>();
  private readonly mounted = new Set<string>();

  constructor(
    private readonly host: EphemeralHost = guestHost,
    private readonly dir: string = GUEST_EPHEMERAL_DIR,
  ) {}

  /**
   * Mounts the request's volumes not mounted yet and checks the spec's mounts that point into the
   * dir: each must name a mounted volume; a path below it (a subPath) is made as a dir when missing.
   */
  async prepare(vols: readonly EphemeralVolume__Output[], mounts: readonly unknown[]): Promise<void> {
    for (const v of checkEphemeralVolumes(vols, vols.length ? this.host.memTotalBytes() : 0n)) await this.ensure(v);
    for (const x of mounts) {
      const m = (typeof x === 'object' && x !== null ? x : {}) as { destination?: unknown; source?: unknown };
      if (typeof m.source !== 'string' || !m.source.startsWith('/')) continue;
      const src = posix.normalize(m.source).replace(/\/+$/, '');
      if (src !== this.dir && !src.startsWith(this.dir + '/')) continue;
      const [name = '', ...rest] = src.slice(this.dir.length + 1).split('/');
      const root = join(this.dir, name);
      if (!EPHEMERAL_NAME_RE.test(name) || !this.isUp(root)) {
        throw new AgentError(Code.InvalidArgument, `mount ${String(m.destination)}: ${m.source} is not a guest-RAM volume of this pod`);
      }
      if (rest.length) this.makeSubPath(root, rest, m.source);
    }
  }

  private isUp(root: string): boolean {
    return this.mounted.has(root) || this.host.isMounted(root);
  }

  private async ensure(v: Wanted): Promise<void> {
    const root = join(this.dir, v.name);
    const inFlight = this.pending.get(v.name);
    if (inFlight) return inFlight;
    if (this.isUp(root)) return; // the pod's earlier container made it: shared as it is
    if (this.mounted.size >= MAX_EPHEMERAL_VOLUMES) throw new AgentError(Code.InvalidArgument, `more than ${MAX_EPHEMERAL_VOLUMES} guest-RAM volumes in this pod`);
    const p = this.host.mountTmpfs(root, v).then(
      () => void this.mounted.add(root),
      (e: unknown) => {
        throw new AgentError(Code.Internal, `guest-RAM volume ${v.name}: ${(e as Error).message}`);
      },
    );
    this.pending.set(v.name, p);
    try {
      await p;
    } finally {
      this.pending.delete(v.name);
    }
  }

  /** mkdir -p of the subPath inside the volume, one component at a time, never through a symlink. */
  private makeSubPath(root: string, parts: string[], source: string): void {
    if (parts.some((c) => c === '' || c === '.' || c === '..')) throw new AgentError(Code.InvalidArgument, `bad subPath in ${source}`);
    const mode = this.host.mode(root);
    let cur = root;
    for (const [i, c] of parts.entries()) {
      cur = join(cur, c);
      const k = this.host.kind(cur);
      if (k === 'symlink') throw new AgentError(Code.InvalidArgument, `subPath ${source}: ${cur} is a symlink`);
      if (k === 'missing') this.host.mkdir(cur, mode);
      // A file is fine as the subPath itself (a file subPath), not on the way to it.
      else if (k === 'other' && i < parts.length - 1) throw new AgentError(Code.InvalidArgument, `subPath ${source}: ${cur} is not a directory`);
    }
  }
}
