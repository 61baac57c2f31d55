// One tar entry at a time into a snapshot directory, in overlayfs format, relative to directory
// fds only (see snapshot-dirs.ts): an entry's parent is resolved in the root into an fd, and the
// entry is made by name relative to it without following (O_CREAT|O_EXCL|O_NOFOLLOW, mkdirat,
// symlinkat, linkat, mknodat, unlinkat, fchownat/utimensat/fchmodat with AT_SYMLINK_NOFOLLOW).
// Node's fs only ever sees fds (writes, fchown, fchmod, futimes) or /proc/self/fd names.
//
// File operations are synchronous: each is a short syscall, and avoiding a libuv thread-pool
// round trip per open/write/chown/chmod/utimes/close makes extraction several times faster than
// the promise API; the event loop still turns between stream chunks.
import { closeSync, constants as C, fchmodSync, fchownSync, futimesSync, writeSync } from 'node:fs';
import type * as tar from 'tar-stream';
import {
  fsetxattr,
  lchmodat,
  lchownat,
  linkat,
  lstatAt,
  lutimesat,
  mkdirat,
  mknodat,
  O_CLOEXEC,
  O_NOFOLLOW,
  openat2,
  removeAt,
  RESOLVE_BENEATH,
  symlinkat,
  unlinkat,
} from './at-fs.js';
import { makedev, S_IFBLK, S_IFCHR, S_IFIFO } from './fs-syscalls.js';
import { LayerSync } from './layer-sync.js';
import { copyUp } from './lower-layers.js';
import { SnapshotDirs } from './snapshot-dirs.js';
import { cleanComponents, DEFAULT_UNPACK_LIMITS, UnpackError, type UnpackLimits, type UnpackOptions, type UnpackStats } from './unpack-types.js';

/** What tar-stream's extract iterator yields: the header and the entry's content stream. */
export type TarEntry = AsyncIterable<Buffer> & { header: tar.Header; resume(): unknown };

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE = '.wh..wh..opq';
const EUID = process.geteuid?.() ?? 0;
const EGID = process.getegid?.() ?? 0;
/** Read once: process.umask() has no side-effect-free getter besides this deprecated form. */
const UMASK = process.umask();
const O_CREATE_FILE = C.O_WRONLY | C.O_CREAT | C.O_EXCL | O_NOFOLLOW | O_CLOEXEC;
const O_DIR_READ = C.O_RDONLY | C.O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

/** A name in a directory fd: how every entry is addressed. */
interface At {
  dir: number;
  name: string;
}

export class Extractor {
  private readonly dirs: SnapshotDirs;
  /** Directory entries' mtimes, set last: parent's logical components, name, time. */
  private readonly dirTimes: Array<[string[], string, Date]> = [];
  readonly stats: UnpackStats = { entries: 0, bytes: 0, streamBytes: 0, skippedDevices: 0, skippedXattrs: 0 };
  readonly limits: UnpackLimits;
  /** Fsyncs the layer's files and directories before the snapshot may be committed. */
  readonly sync = new LayerSync();

  constructor(private readonly opts: UnpackOptions) {
    this.limits = opts.limits ?? DEFAULT_UNPACK_LIMITS;
    this.dirs = new SnapshotDirs(opts.root, (p) => this.sync.dirChanged(p));
  }

  /** Removes whatever is at `at` (never following it); returns true if a directory was kept. */
  private clear(at: At, keepDir: boolean): boolean {
    try {
      unlinkat(at.dir, at.name, 0);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return false;
      if (code !== 'EISDIR') throw e;
      if (keepDir) return true;
      removeAt(at.dir, at.name);
    }
    // A directory or symlink may have gone: cached logical paths may resolve elsewhere now.
    this.dirs.invalidate();
    return false;
  }

  /** Runs create(); if something already exists at `at`, removes it and runs create() again. */
  private replacing(at: At, create: () => void): void {
    try {
      create();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      this.clear(at, false);
      create();
    }
  }

  async entry(entry: TarEntry): Promise<void> {
    try {
      await this.place(entry);
    } finally {
      this.dirs.release();
    }
  }

  private async place(entry: TarEntry): Promise<void> {
    const h = entry.header;
    if (++this.stats.entries > this.limits.maxEntries) {
      throw new UnpackError(`layer exceeds the unpack limit of ${this.limits.maxEntries} entries`);
    }
    const parts = cleanComponents(h.name);
    const type = h.type ?? 'file';
    if (parts.length === 0) {
      // The root itself ("./"): take its metadata, nothing else.
      entry.resume();
      if (type === 'directory') this.applyDirMeta([], { dir: this.dirs.rootfd, name: '.' }, h);
      return;
    }
    const base = parts[parts.length - 1]!;
    const parentParts = parts.slice(0, -1);
    const parent = this.dirs.resolve(parentParts, true)!;
    if (base === OPAQUE) {
      entry.resume();
      const fd = openat2(parent, '.', O_DIR_READ, RESOLVE_BENEATH);
      try {
        fsetxattr(fd, 'trusted.overlay.opaque', Buffer.from('y'));
      } finally {
        closeSync(fd);
      }
      return;
    }
    if (base.startsWith(WHITEOUT_PREFIX)) {
      entry.resume();
      const name = base.slice(WHITEOUT_PREFIX.length);
      if (!name || name === '.' || name === '..') throw new UnpackError(`invalid whiteout ${h.name}`);
      this.clear({ dir: parent, name }, false);
      mknodat(parent, name, S_IFCHR | 0o000, makedev(0, 0));
      return;
    }
    const at: At = { dir: parent, name: base };
    const mode = (h.mode ?? 0o644) & 0o7777;
    const uid = h.uid ?? 0;
    const gid = h.gid ?? 0;
    const mtime = h.mtime ?? new Date(0);
    switch (type) {
      case 'directory': {
        entry.resume();
        if (!this.clear(at, true)) {
          mkdirat(parent, base, 0o700);
          this.sync.dirChanged(parts.join('/'));
        }
        this.applyDirMeta(parentParts, at, h);
        return;
      }
      case 'file':
      case 'contiguous-file': {
        // O_EXCL first; only an existing entry (duplicate, or replaced type) costs the clear().
        let fd = -1;
        this.replacing(at, () => (fd = openat2(parent, base, O_CREATE_FILE, 0, mode & 0o777)));
        let written = false;
        try {
          for await (const chunk of entry) {
            this.stats.bytes += chunk.length;
            let off = 0;
            while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
          }
          // Skip the syscalls that would change nothing: a new file is already ours and has
          // mode & ~umask. chown first: it clears setuid/setgid, which the chmod then restores.
          const chown = uid !== EUID || gid !== EGID;
          if (chown) fchownSync(fd, uid, gid);
          if (chown || (mode & 0o7000) !== 0 || (mode & UMASK) !== 0) fchmodSync(fd, mode);
          futimesSync(fd, mtime, mtime);
          if (h.pax) this.applyXattrs(fd, h);
          written = true;
        } finally {
          if (!written) closeSync(fd);
        }
        this.sync.adoptFile(fd);
        return;
      }
      case 'symlink': {
        entry.resume();
        this.replacing(at, () => symlinkat(h.linkname ?? '', parent, base));
        lchownat(parent, base, uid, gid);
        lutimesat(parent, base, mtime, mtime);
        return;
      }
      case 'link': {
        entry.resume();
        const target = await this.hardlinkTarget(h.linkname ?? '', h.name);
        this.replacing(at, () => {
          try {
            linkat(target.dir, target.name, parent, base);
          } catch (e) {
            // Already this very file (a link to itself, or a duplicate entry): nothing to do.
            if ((e as NodeJS.ErrnoException).code === 'EEXIST' && sameFile(target, at)) return;
            throw e;
          }
        });
        return;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        entry.resume();
        if (type !== 'fifo' && !this.opts.allowDevices) {
          this.stats.skippedDevices++;
          return;
        }
        this.clear(at, false);
        const kind = type === 'fifo' ? S_IFIFO : type === 'block-device' ? S_IFBLK : S_IFCHR;
        try {
          mknodat(parent, base, kind | 0o600, makedev(h.devmajor ?? 0, h.devminor ?? 0));
        } catch (e) {
          // Without CAP_MKNOD (e.g. in a user namespace) devices are skipped, as containerd does.
          if ((e as NodeJS.ErrnoException).code !== 'EPERM' || type === 'fifo') throw e;
          this.stats.skippedDevices++;
          return;
        }
        lchownat(parent, base, uid, gid);
        lchmodat(parent, base, mode);
        lutimesat(parent, base, mtime, mtime);
        return;
      }
      default:
        // pax/gnu meta headers are consumed by tar-stream; anything else is ignored like containerd does.
        entry.resume();
        return;
    }
  }

  /**
   * File capabilities and user xattrs from PAX SCHILY.xattr records (after chown, which clears
   * capabilities). trusted.* and other namespaces are never taken from an image: trusted.overlay.*
   * would let a layer forge overlay metadata. tar-stream decodes PAX values as UTF-8, so a value
   * that did not survive that (U+FFFD) is skipped rather than written corrupted.
   */
  private applyXattrs(fd: number, h: tar.Header): void {
    const pax = h.pax as Record<string, string> | null | undefined;
    if (!pax) return;
    for (const [k, v] of Object.entries(pax)) {
      if (!k.startsWith('SCHILY.xattr.')) continue;
      const name = k.slice('SCHILY.xattr.'.length);
      if (name !== 'security.capability' && !name.startsWith('user.')) continue;
      if (v.includes('\uFFFD')) {
        this.stats.skippedXattrs++;
        continue;
      }
      try {
        fsetxattr(fd, name, Buffer.from(v, 'utf8'));
      } catch {
        this.stats.skippedXattrs++;
      }
    }
  }

  private applyDirMeta(parentParts: string[], at: At, h: tar.Header): void {
    lchownat(at.dir, at.name, h.uid ?? 0, h.gid ?? 0);
    lchmodat(at.dir, at.name, (h.mode ?? 0o755) & 0o7777);
    this.dirTimes.push([parentParts, at.name, h.mtime ?? new Date(0)]);
  }

  /** Where a hardlink's target is inside this layer, or a copy from a lower layer. */
  private async hardlinkTarget(linkname: string, name: string): Promise<At> {
    const parts = cleanComponents(linkname);
    if (parts.length === 0) throw new UnpackError(`hardlink ${name} has no target`);
    const dirParts = parts.slice(0, -1);
    const base = parts[parts.length - 1]!;
    const dir = this.dirs.resolve(dirParts, false);
    const st = dir === undefined ? undefined : lstatAt(dir, base);
    if (st && !st.isDirectory()) return { dir: dir!, name: base };
    if (st) throw new UnpackError(`hardlink ${name} points to a directory`);
    const lower = this.opts.lowerLookup ? await this.opts.lowerLookup(parts.join('/')) : undefined;
    if (lower === undefined) throw new UnpackError(`hardlink ${name} points to ${linkname}, which is not in the image`);
    // Copy the lower file up into this layer (what overlay's copy-up would do), then link to it.
    const copyDir = this.dirs.resolve(dirParts, true)!;
    this.sync.adoptFile(copyUp(lower, copyDir, base));
    return { dir: copyDir, name: base };
  }

  /** Fsyncs every file and directory of the layer (once the stream passed its diffID check). */
  async makeDurable(): Promise<void> {
    this.sync.dirChanged('');
    await this.sync.finish((p) => this.dirs.openForRead(p));
  }

  finish(): void {
    // Directory mtimes last (creating children changes them), deepest first. Never followed: a
    // later entry may have replaced the directory with a symlink.
    try {
      for (let i = this.dirTimes.length - 1; i >= 0; i--) {
        const [parentParts, name, t] = this.dirTimes[i]!;
        const dir = this.dirs.resolve(parentParts, false);
        if (dir === undefined) continue;
        try {
          lutimesat(dir, name, t, t);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
      }
    } finally {
      this.dirs.release();
    }
  }

  /** Closes every fd of the snapshot's directories; fds of written files are LayerSync's. */
  close(): void {
    this.dirs.close();
  }
}

function sameFile(a: At, b: At): boolean {
  const sa = lstatAt(a.dir, a.name);
  const sb = lstatAt(b.dir, b.name);
  return sa !== undefined && sb !== undefined && sa.ino === sb.ino && sa.dev === sb.dev;
}
