// Tar extraction of one image layer into one snapshot directory, in overlayfs format.
//
// Containment: every entry name is cleaned lexically against "/" (so `../../x` lands at <root>/x),
// parent directories are resolved component by component with lstat, following symlinks made by
// this layer *inside* the root (as if the root were "/"), and the final component is never
// followed (existing entries are unlinked, files opened O_EXCL|O_NOFOLLOW). Hardlink targets are
// resolved the same way, so `/etc/passwd` means <root>/etc/passwd. Nothing can escape the root.
//
// File operations are synchronous: each is a short syscall, and avoiding a libuv thread-pool
// round trip per open/write/chown/chmod/utimes/close makes extraction several times faster than
// the promise API; the event loop still turns between stream chunks.
import {
  closeSync,
  constants as C,
  fchmodSync,
  fchownSync,
  futimesSync,
  linkSync,
  lchownSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  chmodSync,
  copyFileSync,
  writeSync,
  type Stats,
} from 'node:fs';
import type { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { lsetxattr, makedev, mknod, S_IFBLK, S_IFCHR, S_IFIFO } from './fs-syscalls.js';
import { LayerSync } from './layer-sync.js';

export interface UnpackLimits {
  /**
   * Cap on the layer's uncompressed tar stream: every byte the decompressor hands over, headers,
   * padding, zero blocks, skipped payloads and trailing bytes included, not only file bodies.
   */
  maxBytes: number;
  /** Cap on tar entries in one layer. */
  maxEntries: number;
}

export const DEFAULT_UNPACK_LIMITS: UnpackLimits = { maxBytes: 64 * 2 ** 30, maxEntries: 2_000_000 };

export interface UnpackOptions {
  /** The snapshot's fs directory: exists, and belongs to this extraction only. */
  root: string;
  limits?: UnpackLimits;
  /** Create block/char device nodes (root outside a user namespace); otherwise they are skipped. */
  allowDevices: boolean;
  /**
   * Hardlinks whose target is not in this layer may point into a lower layer (the layers are
   * separate directories for overlay): returns the absolute path of that file, or undefined.
   */
  lowerLookup?: (relPath: string) => Promise<string | undefined>;
}

export interface UnpackStats {
  entries: number;
  /** File content written. */
  bytes: number;
  /** The whole uncompressed tar stream read (what limits.maxBytes caps). */
  streamBytes: number;
  skippedDevices: number;
  skippedXattrs: number;
}

/** Thrown for layer content we refuse (bomb limits, hardlinks to nothing, bad parents). */
export class UnpackError extends Error {
  override readonly name = 'UnpackError';
}

/** What tar-stream's extract iterator yields: the header and the entry's content stream. */
type TarEntry = AsyncIterable<Buffer> & { header: tar.Header; resume(): unknown };

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE = '.wh..wh..opq';
const MAX_SYMLINK_HOPS = 40;
const EUID = process.geteuid?.() ?? 0;
const EGID = process.getegid?.() ?? 0;
/** Read once: process.umask() has no side-effect-free getter besides this deprecated form. */
const UMASK = process.umask();
const O_CREATE_FILE = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW | 0o2000000 /* O_CLOEXEC */;

/** Cleans an entry name against "/" and returns its components (empty for the root itself). */
export function cleanComponents(name: string): string[] {
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') out.pop();
    else out.push(c);
  }
  return out;
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

class Extractor {
  private readonly root: string;
  /** Logical directory path ("a/b") → real absolute path, for parents already resolved. */
  private readonly dirCache = new Map<string, string>();
  private readonly dirTimes: Array<[string, Date]> = [];
  readonly stats: UnpackStats = { entries: 0, bytes: 0, streamBytes: 0, skippedDevices: 0, skippedXattrs: 0 };
  readonly limits: UnpackLimits;
  /** Fsyncs the layer's files and directories before the snapshot may be committed. */
  readonly sync = new LayerSync();

  constructor(private readonly opts: UnpackOptions) {
    this.root = opts.root.replace(/\/+$/, '');
    this.limits = opts.limits ?? DEFAULT_UNPACK_LIMITS;
  }

  /**
   * Real path of the directory at logical components `parts`, following symlinks within the root.
   * `create`: make missing directories (0755, like containerd); otherwise return undefined.
   */
  private resolveDir(parts: string[], create: boolean): string | undefined {
    const key = parts.join('/');
    const hit = this.dirCache.get(key);
    if (hit !== undefined) return hit;
    const cur: string[] = [];
    const queue = parts.slice();
    let hops = 0;
    while (queue.length > 0) {
      const c = queue.shift()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        cur.pop();
        continue;
      }
      const p = `${this.root}/${[...cur, c].join('/')}`;
      const st = lstatOrUndefined(p);
      if (!st) {
        if (!create) return undefined;
        mkdirSync(p, 0o755);
        this.sync.dirChanged(p);
        cur.push(c);
      } else if (st.isDirectory()) {
        cur.push(c);
      } else if (st.isSymbolicLink()) {
        if (++hops > MAX_SYMLINK_HOPS) throw new UnpackError(`too many symlinks resolving ${key}`);
        const target = readlinkSync(p);
        if (target.startsWith('/')) cur.length = 0;
        queue.unshift(...target.split('/'));
      } else {
        if (!create) return undefined;
        throw new UnpackError(`parent of an entry is not a directory: /${[...cur, c].join('/')}`);
      }
    }
    const real = cur.length ? `${this.root}/${cur.join('/')}` : this.root;
    this.dirCache.set(key, real);
    return real;
  }

  /** Removes whatever is at `p` (never following it) so a new entry can take its place. */
  private clear(p: string, keepDir: boolean): Stats | undefined {
    const st = lstatOrUndefined(p);
    if (!st) return undefined;
    if (st.isDirectory()) {
      if (keepDir) return st;
      rmSync(p, { recursive: true, force: true });
      this.dirCache.clear();
      return undefined;
    }
    if (st.isSymbolicLink()) this.dirCache.clear();
    unlinkSync(p);
    return undefined;
  }

  /** Runs create(); if something already exists at p, removes it and runs create() again. */
  private replacing(p: string, create: () => void): void {
    try {
      create();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      this.clear(p, false);
      create();
    }
  }

  async entry(entry: TarEntry): Promise<void> {
    const h = entry.header;
    if (++this.stats.entries > this.limits.maxEntries) {
      throw new UnpackError(`layer exceeds the unpack limit of ${this.limits.maxEntries} entries`);
    }
    const parts = cleanComponents(h.name);
    const type = h.type ?? 'file';
    if (parts.length === 0) {
      // The root itself ("./"): take its metadata, nothing else.
      entry.resume();
      if (type === 'directory') this.applyDirMeta(this.root, h);
      return;
    }
    const base = parts[parts.length - 1]!;
    const parent = this.resolveDir(parts.slice(0, -1), true)!;
    if (base === OPAQUE) {
      entry.resume();
      lsetxattr(parent, 'trusted.overlay.opaque', Buffer.from('y'));
      return;
    }
    if (base.startsWith(WHITEOUT_PREFIX)) {
      entry.resume();
      const name = base.slice(WHITEOUT_PREFIX.length);
      if (!name || name === '.' || name === '..') throw new UnpackError(`invalid whiteout ${h.name}`);
      const p = `${parent}/${name}`;
      this.clear(p, false);
      mknod(p, S_IFCHR | 0o000, makedev(0, 0));
      return;
    }
    const p = `${parent}/${base}`;
    const mode = (h.mode ?? 0o644) & 0o7777;
    const uid = h.uid ?? 0;
    const gid = h.gid ?? 0;
    const mtime = h.mtime ?? new Date(0);
    switch (type) {
      case 'directory': {
        entry.resume();
        if (!this.clear(p, true)) {
          mkdirSync(p, 0o700);
          this.sync.dirChanged(p);
        }
        this.applyDirMeta(p, h);
        return;
      }
      case 'file':
      case 'contiguous-file': {
        // O_EXCL first; only an existing entry (duplicate, or replaced type) costs the clear().
        let fd = -1;
        this.replacing(p, () => (fd = openSync(p, O_CREATE_FILE, mode & 0o777)));
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
          written = true;
        } finally {
          if (!written) closeSync(fd);
        }
        if (h.pax) this.applyXattrs(p, h);
        await this.sync.adoptFile(fd);
        return;
      }
      case 'symlink': {
        entry.resume();
        this.replacing(p, () => symlinkSync(h.linkname ?? '', p));
        lchownSync(p, uid, gid);
        lutimesSync(p, mtime, mtime);
        return;
      }
      case 'link': {
        entry.resume();
        const target = await this.hardlinkTarget(h.linkname ?? '', h.name);
        if (target === p) return;
        this.replacing(p, () => linkSync(target, p));
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
        this.clear(p, false);
        const kind = type === 'fifo' ? S_IFIFO : type === 'block-device' ? S_IFBLK : S_IFCHR;
        try {
          mknod(p, kind | 0o600, makedev(h.devmajor ?? 0, h.devminor ?? 0));
        } catch (e) {
          // Without CAP_MKNOD (e.g. in a user namespace) devices are skipped, as containerd does.
          if ((e as NodeJS.ErrnoException).code !== 'EPERM' || type === 'fifo') throw e;
          this.stats.skippedDevices++;
          return;
        }
        lchownSync(p, uid, gid);
        chmodSync(p, mode);
        utimesSync(p, mtime, mtime);
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
  private applyXattrs(p: string, h: tar.Header): void {
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
        lsetxattr(p, name, Buffer.from(v, 'utf8'));
      } catch {
        this.stats.skippedXattrs++;
      }
    }
  }

  private applyDirMeta(p: string, h: tar.Header): void {
    lchownSync(p, h.uid ?? 0, h.gid ?? 0);
    chmodSync(p, (h.mode ?? 0o755) & 0o7777);
    this.dirTimes.push([p, h.mtime ?? new Date(0)]);
  }

  /** Absolute path of a hardlink's target inside this layer, or a copy from a lower layer. */
  private async hardlinkTarget(linkname: string, name: string): Promise<string> {
    const parts = cleanComponents(linkname);
    if (parts.length === 0) throw new UnpackError(`hardlink ${name} has no target`);
    const dir = this.resolveDir(parts.slice(0, -1), false);
    const here = dir === undefined ? undefined : `${dir}/${parts[parts.length - 1]}`;
    const st = here === undefined ? undefined : lstatOrUndefined(here);
    if (st && !st.isDirectory()) return here!;
    if (st) throw new UnpackError(`hardlink ${name} points to a directory`);
    const lower = this.opts.lowerLookup ? await this.opts.lowerLookup(parts.join('/')) : undefined;
    if (lower === undefined) throw new UnpackError(`hardlink ${name} points to ${linkname}, which is not in the image`);
    // Copy the lower file up into this layer (what overlay's copy-up would do), then link to it.
    const ls = lstatSync(lower);
    if (!ls.isFile()) throw new UnpackError(`hardlink ${name} points to a non-regular lower file`);
    const copyDir = this.resolveDir(parts.slice(0, -1), true)!;
    const copy = `${copyDir}/${parts[parts.length - 1]}`;
    copyFileSync(lower, copy, C.COPYFILE_EXCL);
    lchownSync(copy, ls.uid, ls.gid);
    chmodSync(copy, ls.mode & 0o7777);
    utimesSync(copy, ls.atime, ls.mtime);
    await this.sync.adoptFile(openSync(copy, C.O_RDONLY | C.O_NOFOLLOW | 0o2000000 /* O_CLOEXEC */));
    return copy;
  }

  /** Fsyncs every file and directory of the layer (once the stream passed its diffID check). */
  async makeDurable(): Promise<void> {
    this.sync.dirChanged(this.root);
    await this.sync.finish();
  }

  finish(): void {
    // Directory mtimes last (creating children changes them), deepest first. lutimes: a later
    // entry may have replaced the directory with a symlink, which must not be followed.
    for (let i = this.dirTimes.length - 1; i >= 0; i--) {
      const [p, t] = this.dirTimes[i]!;
      try {
        lutimesSync(p, t, t);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
  }
}

/**
 * Extracts an (uncompressed) tar stream into opts.root. Resolves once every entry is on disk;
 * rejects on malformed or refused content (the caller removes the half-written root).
 */
export async function extractTar(source: Readable, opts: UnpackOptions): Promise<UnpackStats> {
  const ex = new Extractor(opts);
  const extract = tar.extract();
  // Closed means destroyed (only the feeder ends it): by a failed consumer, or by the consumer's
  // loop exiting. 'close' may have fired before a write returned false; waiting for 'drain' then
  // would never end (a slow consumer, e.g. one awaiting fsyncs, made that race likely).
  let extractClosed = false;
  extract.once('close', () => (extractClosed = true));
  /** The whole source went into the parser, so every check riding on the source (diffID) ran. */
  let fedAll = false;
  const feed = async () => {
    for await (const chunk of source) {
      if (extractClosed) return;
      // Counted here, before tar parsing: a stream of zero blocks, padding, non-file entries or
      // payloads of skipped entries writes no file content yet can be made endless.
      ex.stats.streamBytes += (chunk as Buffer).length;
      if (ex.stats.streamBytes > ex.limits.maxBytes) {
        throw new UnpackError(`layer exceeds the unpack size limit of ${ex.limits.maxBytes} bytes (uncompressed tar stream)`);
      }
      if (!extract.write(chunk as Buffer) && !extractClosed) {
        await new Promise<void>((resolve) => {
          const done = () => {
            extract.off('drain', done);
            extract.off('close', done);
            resolve();
          };
          extract.on('drain', done);
          extract.on('close', done);
        });
      }
    }
    if (extractClosed) return;
    extract.end(undefined);
    fedAll = true;
  };
  const consume = async () => {
    for await (const entry of extract) await ex.entry(entry as unknown as TarEntry);
    ex.finish();
  };
  let feedError: unknown;
  const feeding = feed().catch((e: unknown) => {
    feedError = e;
    extract.destroy(e as Error);
  });
  try {
    await consume();
  } catch (e) {
    ex.sync.abandon();
    // Whichever side failed first names the failure. When extraction failed (a cap, ENOSPC),
    // destroying the source makes the feeder fail too, with a bare "Premature close" that used to
    // win: a tar bomb or a full disk then surfaced as INTERNAL instead of its real error.
    const feedFailedFirst = feedError !== undefined;
    source.destroy();
    extract.destroy(e as Error);
    await feeding;
    throw feedFailedFirst ? feedError : e;
  }
  await feeding;
  if (feedError || !fedAll) {
    ex.sync.abandon();
    throw feedError ?? new UnpackError('tar extraction stopped before the end of the layer stream');
  }
  try {
    await ex.makeDurable();
  } catch (e) {
    ex.sync.abandon();
    throw e;
  }
  return ex.stats;
}

/**
 * Finds a regular file for a hardlink's copy-up in lower layer directories (top-most first).
 * Every intermediate component must be a real directory: a lower layer's symlink (say
 * `lib -> /etc`) must never lead the copy to a host file. A whiteout hides lower entries.
 */
export function findInLowerDirs(lowerDirsTopFirst: string[], rel: string): string | undefined {
  const parts = cleanComponents(rel);
  if (parts.length === 0) return undefined;
  for (const dir of lowerDirsTopFirst) {
    let cur = dir;
    let ok = true;
    for (let i = 0; i < parts.length - 1; i++) {
      cur = `${cur}/${parts[i]}`;
      const st = lstatOrUndefined(cur);
      if (!st || !st.isDirectory()) {
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    const p = `${cur}/${parts[parts.length - 1]}`;
    const st = lstatOrUndefined(p);
    if (!st) continue;
    if (st.isCharacterDevice() && st.rdev === 0) return undefined;
    return st.isFile() ? p : undefined;
  }
  return undefined;
}
