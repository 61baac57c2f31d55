// The directories of one snapshot being extracted, as fds. The root is opened once (O_PATH); a
// parent is resolved with openat2(rootfd, path, RESOLVE_IN_ROOT), so symlinks the layer made are
// followed *inside* the root (`/etc` means <root>/etc, `../..` stops at the root) by the kernel,
// in one step that a concurrent rename or symlink swap cannot redirect outside the root. Entries
// are then made relative to the parent's fd: a swap after resolution moves nothing but the name.
// An fd follows its directory wherever it is renamed; one renamed out of the root keeps receiving
// this entry, but only a writer who can already write at both places (root: the tree is 0700) can
// do that rename, so it gains nothing.
import { closeSync } from 'node:fs';
import {
  AT_FDCWD,
  mkdirat,
  O_CLOEXEC,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_PATH,
  openat2,
  readlinkat,
  RESOLVE_BENEATH,
  RESOLVE_IN_ROOT,
  RESOLVE_NO_MAGICLINKS,
  RESOLVE_NO_SYMLINKS,
  RESOLVE_NO_XDEV,
} from './at-fs.js';
import { UnpackError } from './unpack-types.js';

/** Like the kernel's own limit (40), which openat2 also applies within one call. */
const MAX_SYMLINK_HOPS = 40;
/**
 * Open parent fds kept: a layer's entries come grouped by directory, so a small cache catches
 * nearly every lookup; 256 stays far below RLIMIT_NOFILE (20000 here, 1024 soft by default).
 */
const CACHE_MAX = 256;
/** openat2 IN_ROOT returns EAGAIN when a rename raced a `..` step; retried this many times. */
const MAX_RACES = 8;
const IN_ROOT = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
const O_DIR_PATH = O_PATH | O_DIRECTORY | O_CLOEXEC;

const codeOf = (e: unknown) => (e as NodeJS.ErrnoException).code;

export class SnapshotDirs {
  readonly rootfd: number;
  /** Logical directory path ("a/b") → O_PATH fd of the directory it resolved to. */
  private readonly cache = new Map<string, number>();
  /** Fds dropped from the cache while an entry may still hold them: closed by release(). */
  private retired: number[] = [];

  /** `created` hears of every directory made while resolving (its path, resolvable in the root). */
  constructor(
    root: string,
    private readonly created: (path: string) => void,
  ) {
    this.rootfd = openat2(AT_FDCWD, root, O_DIR_PATH, 0);
  }

  /**
   * O_PATH fd of the directory at logical components `parts`, valid until release(). `create`:
   * missing directories are made (0755, like containerd), also where a dangling symlink points;
   * otherwise a missing or non-directory path gives undefined.
   */
  resolve(parts: string[], create: boolean): number | undefined {
    if (parts.length === 0) return this.rootfd;
    const key = parts.join('/');
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    let fd = this.open(key, create);
    if (fd === undefined) {
      if (!create) return undefined;
      fd = this.make(parts);
    }
    if (this.cache.size >= CACHE_MAX) this.invalidate();
    this.cache.set(key, fd);
    return fd;
  }

  /** Some directory or symlink was removed: logical paths may now resolve elsewhere. */
  invalidate(): void {
    for (const fd of this.cache.values()) this.retired.push(fd);
    this.cache.clear();
  }

  /** After each entry: closes the fds invalidated while it ran. */
  release(): void {
    for (const fd of this.retired) closeSync(fd);
    this.retired = [];
  }

  close(): void {
    this.invalidate();
    this.release();
    closeSync(this.rootfd);
  }

  /** A directory opened for reading (fsync, fchown, xattrs), resolved in the root; undefined if gone. */
  openForRead(path: string): number | undefined {
    try {
      return openat2(this.rootfd, path || '.', 0 /* O_RDONLY */ | O_DIRECTORY | O_CLOEXEC | 0o4000 /* O_NONBLOCK */, IN_ROOT);
    } catch (e) {
      const code = codeOf(e);
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return undefined;
      throw e;
    }
  }

  /** The directory at `path` resolved in the root; undefined when something is missing. */
  private open(path: string, create: boolean): number | undefined {
    for (let races = 0; ; races++) {
      try {
        return openat2(this.rootfd, path, O_DIR_PATH, IN_ROOT);
      } catch (e) {
        const code = codeOf(e);
        if (code === 'ENOENT') return undefined;
        if (code === 'ENOTDIR') {
          if (!create) return undefined;
          throw new UnpackError(`parent of an entry is not a directory: /${path}`);
        }
        if (code === 'ELOOP') throw new UnpackError(`too many symlinks resolving /${path}`);
        if (code === 'EXDEV') throw new UnpackError(`/${path} leads out of the snapshot's file system`);
        if (code !== 'EAGAIN' || races >= MAX_RACES) throw e;
      }
    }
  }

  /**
   * Slow path, when `parts` does not fully exist: walks it one component at a time, each step
   * resolved in the root, making what is missing relative to the fd of the step before.
   */
  private make(parts: string[]): number {
    const queue = parts.slice();
    let path = '';
    let cur = this.rootfd;
    let hops = 0;
    let races = 0;
    const step = (fd: number, to: string) => {
      if (cur !== this.rootfd) closeSync(cur);
      cur = fd;
      path = to;
    };
    try {
      while (queue.length > 0) {
        const c = queue.shift()!;
        if (c === '' || c === '.') continue;
        const next = path === '' ? c : `${path}/${c}`;
        const fd = this.open(next, true);
        if (fd !== undefined) {
          step(fd, next);
          continue;
        }
        try {
          mkdirat(cur, c, 0o755);
          this.created(next);
          step(openat2(cur, c, O_DIR_PATH | O_NOFOLLOW, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), next);
          continue;
        } catch (e) {
          if (codeOf(e) !== 'EEXIST') throw e;
        }
        // A dangling symlink (or a race): follow it as resolution would, inside the root.
        const target = this.linkTarget(cur, c);
        if (target === undefined) {
          if (++races > MAX_RACES) throw new UnpackError(`/${next} keeps changing while it is resolved`);
          queue.unshift(c);
          continue;
        }
        if (++hops > MAX_SYMLINK_HOPS) throw new UnpackError(`too many symlinks resolving /${parts.join('/')}`);
        if (target.startsWith('/')) step(this.rootfd, '');
        queue.unshift(...target.split('/'));
      }
      if (cur === this.rootfd) return openat2(this.rootfd, '.', O_DIR_PATH, IN_ROOT);
      const fd = cur;
      cur = this.rootfd;
      return fd;
    } finally {
      if (cur !== this.rootfd) closeSync(cur);
    }
  }

  /** The target if `name` in dirfd is a symlink; undefined if it is not (any more). */
  private linkTarget(dirfd: number, name: string): string | undefined {
    try {
      return readlinkat(dirfd, name);
    } catch (e) {
      const code = codeOf(e);
      if (code === 'EINVAL' || code === 'ENOENT') return undefined;
      throw e;
    }
  }
}
