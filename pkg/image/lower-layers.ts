// Hardlinks into lower layers: a layer may hardlink a file that only a lower layer has (the layers
// are separate directories for overlay), so that file is copied up into this layer first, as
// overlay's own copy-up would do.
import { closeSync, constants as C, fchmodSync, fchownSync, fstatSync, futimesSync, lstatSync, openSync, readSync, writeSync, type Stats } from 'node:fs';
import { O_CLOEXEC, O_NOFOLLOW, openat2 } from './at-fs.js';
import { cleanComponents, UnpackError } from './unpack-types.js';

const O_CREATE_FILE = C.O_WRONLY | C.O_CREAT | C.O_EXCL | O_NOFOLLOW | O_CLOEXEC;
/** Copy buffer: big enough that a copy-up costs few syscalls, small enough to keep around. */
const copyBuf = Buffer.alloc(256 * 1024);

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Finds a regular file for a hardlink's copy-up in lower layer directories (top-most first).
 * Every intermediate component must be a real directory: a lower layer's symlink (say
 * `lib -> /etc`) must never lead the copy to a host file. A whiteout hides lower entries.
 * Lower layers are committed snapshots that nothing writes any more, so paths are fine here.
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

/**
 * Copies the lower file `lower` to `name` in dirfd (which must not exist), with its owner, mode
 * and times. Returns the new file's fd, written and still open (the caller fsyncs and closes it).
 * The source is opened O_NOFOLLOW|O_NONBLOCK and checked on its fd: never a symlink, fifo or device.
 */
export function copyUp(lower: string, dirfd: number, name: string): number {
  const src = openSync(lower, C.O_RDONLY | O_NOFOLLOW | C.O_NONBLOCK | C.O_NOCTTY | O_CLOEXEC);
  try {
    const st = fstatSync(src);
    if (!st.isFile()) throw new UnpackError(`hardlink target ${lower} in a lower layer is not a regular file`);
    const dst = openat2(dirfd, name, O_CREATE_FILE, 0, st.mode & 0o777);
    try {
      for (;;) {
        const n = readSync(src, copyBuf, 0, copyBuf.length, null);
        if (n === 0) break;
        let off = 0;
        while (off < n) off += writeSync(dst, copyBuf, off, n - off);
      }
      fchownSync(dst, st.uid, st.gid);
      fchmodSync(dst, st.mode & 0o7777);
      futimesSync(dst, st.atime, st.mtime);
      return dst;
    } catch (e) {
      closeSync(dst);
      throw e;
    }
  } finally {
    closeSync(src);
  }
}
