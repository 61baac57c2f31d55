// Directory-fd-relative file-system calls (the *at family and openat2) through koffi. Layer
// extraction names every file as (directory fd, one component): a path is resolved once into a
// fd, and nothing done through that fd can be redirected by a symlink swapped into the path later.
// Errors carry the errno name as `code`, like Node's fs errors.
import koffi from 'koffi';
import { closeSync, constants as C, fstatSync, readdirSync, type Stats } from 'node:fs';
import { getSystemErrorName } from 'node:util';

/** Not in Node's fs.constants; the generic Linux values (x86_64 and aarch64 alike). */
export const O_PATH = 0o10000000;
export const O_CLOEXEC = 0o2000000;
export const O_DIRECTORY = C.O_DIRECTORY;
export const O_NOFOLLOW = C.O_NOFOLLOW;

export const RESOLVE_NO_XDEV = 0x01;
export const RESOLVE_NO_MAGICLINKS = 0x02;
export const RESOLVE_NO_SYMLINKS = 0x04;
export const RESOLVE_BENEATH = 0x08;
export const RESOLVE_IN_ROOT = 0x10;

export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_REMOVEDIR = 0x200;

/** openat2(2) has one number on every architecture (syscalls ≥ 424 are unified); glibc 2.36 has no wrapper. */
const SYS_OPENAT2 = 437;
const ENOSYS = 38;

type Fns = {
  syscall: (nr: number, dirfd: number, path: string, how: BigUint64Array, size: number) => number;
  mkdirat: (dirfd: number, path: string, mode: number) => number;
  symlinkat: (target: string, dirfd: number, path: string) => number;
  linkat: (olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags: number) => number;
  mknodat: (dirfd: number, path: string, mode: number, dev: number) => number;
  unlinkat: (dirfd: number, path: string, flags: number) => number;
  fchownat: (dirfd: number, path: string, uid: number, gid: number, flags: number) => number;
  fchmodat: (dirfd: number, path: string, mode: number, flags: number) => number;
  utimensat: (dirfd: number, path: string, times: BigInt64Array, flags: number) => number;
  readlinkat: (dirfd: number, path: string, buf: Buffer, size: number) => number;
  fsetxattr: (fd: number, name: string, value: Buffer, size: number, flags: number) => number;
};

let fns: Fns | undefined;

function libc(): Fns {
  if (!fns) {
    const lib = koffi.load('libc.so.6');
    // syscall(2) is variadic; declared with openat2's four arguments, which is how the integer
    // calling conventions of x86_64 and aarch64 pass them anyway (glibc's syscall() is asm).
    fns = {
      syscall: lib.func('long syscall(long nr, int dirfd, const char *path, void *how, size_t size)'),
      mkdirat: lib.func('int mkdirat(int dirfd, const char *path, uint32_t mode)'),
      symlinkat: lib.func('int symlinkat(const char *target, int dirfd, const char *path)'),
      linkat: lib.func('int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)'),
      mknodat: lib.func('int mknodat(int dirfd, const char *path, uint32_t mode, uint64_t dev)'),
      unlinkat: lib.func('int unlinkat(int dirfd, const char *path, int flags)'),
      fchownat: lib.func('int fchownat(int dirfd, const char *path, uint32_t uid, uint32_t gid, int flags)'),
      fchmodat: lib.func('int fchmodat(int dirfd, const char *path, uint32_t mode, int flags)'),
      utimensat: lib.func('int utimensat(int dirfd, const char *path, const void *times, int flags)'),
      readlinkat: lib.func('long readlinkat(int dirfd, const char *path, void *buf, size_t size)'),
      fsetxattr: lib.func('int fsetxattr(int fd, const char *name, const void *value, size_t size, int flags)'),
    } as Fns;
  }
  return fns;
}

export function atError(call: string, path: string, errno = koffi.errno()): NodeJS.ErrnoException {
  const code = errno > 0 ? getSystemErrorName(-errno) : 'UNKNOWN';
  const err = new Error(`${call} ${path}: ${code}`) as NodeJS.ErrnoException;
  err.code = code;
  err.errno = errno;
  err.syscall = call;
  err.path = path;
  return err;
}

function check(r: number, call: string, path: string): void {
  if (r < 0) throw atError(call, path);
}

/** Strings reach C as NUL-terminated: a NUL inside would silently cut the name short. */
function noNul(s: string): string {
  if (s.includes('\0')) throw atError('path', JSON.stringify(s), 22 /* EINVAL */);
  return s;
}

const how = new BigUint64Array(3);

/**
 * openat2(2): `resolve` constrains every step of the lookup (RESOLVE_IN_ROOT: `..` and absolute
 * symlinks stop at dirfd, as if it were "/"). Needs Linux ≥ 5.6; older kernels are refused with
 * an error saying so, never served by path-based code.
 */
export function openat2(dirfd: number, path: string, flags: number, resolve: number, mode = 0): number {
  how[0] = BigInt(flags);
  how[1] = BigInt(mode);
  how[2] = BigInt(resolve);
  const fd = libc().syscall(SYS_OPENAT2, dirfd, noNul(path), how, 24);
  if (fd < 0) {
    const errno = koffi.errno();
    if (errno === ENOSYS) {
      const err = atError('openat2', path, errno);
      err.message = `openat2 is not available (Linux >= 5.6 needed): layer extraction will not fall back to path-based calls; ${err.message}`;
      throw err;
    }
    throw atError('openat2', path, errno);
  }
  return fd;
}

export function mkdirat(dirfd: number, name: string, mode: number): void {
  check(libc().mkdirat(dirfd, noNul(name), mode), 'mkdirat', name);
}

export function symlinkat(target: string, dirfd: number, name: string): void {
  check(libc().symlinkat(noNul(target), dirfd, noNul(name)), 'symlinkat', name);
}

/** Flags 0: a symlink at the old name is linked itself, never followed. */
export function linkat(olddirfd: number, oldname: string, newdirfd: number, newname: string): void {
  check(libc().linkat(olddirfd, noNul(oldname), newdirfd, noNul(newname), 0), 'linkat', newname);
}

export function mknodat(dirfd: number, name: string, mode: number, dev: number): void {
  check(libc().mknodat(dirfd, noNul(name), mode, dev), 'mknodat', name);
}

export function unlinkat(dirfd: number, name: string, flags: number): void {
  check(libc().unlinkat(dirfd, noNul(name), flags), 'unlinkat', name);
}

/** A uid or gid as uid_t: 0xffffffff would mean "leave unchanged", anything else out of range is refused. */
function id(n: number, name: string): number {
  if (!Number.isInteger(n) || n < 0 || n >= 0xffffffff) throw atError('fchownat', `${name} (id ${n})`, 22 /* EINVAL */);
  return n;
}

/** Never follows: ownership of the entry itself (a symlink's own uid:gid). */
export function lchownat(dirfd: number, name: string, uid: number, gid: number): void {
  id(uid, name);
  id(gid, name);
  check(libc().fchownat(dirfd, noNul(name), uid, gid, AT_SYMLINK_NOFOLLOW), 'fchownat', name);
}

/**
 * Never follows. glibc (2.32+) does it race-free: an O_PATH|O_NOFOLLOW fd, refused if it is a
 * symlink (EOPNOTSUPP, which Node names ENOTSUP), then chmod through /proc/self/fd; so this needs /proc.
 */
export function lchmodat(dirfd: number, name: string, mode: number): void {
  check(libc().fchmodat(dirfd, noNul(name), mode, AT_SYMLINK_NOFOLLOW), 'fchmodat', name);
}

const times = new BigInt64Array(4);

function setTimespec(i: number, d: Date): void {
  const ms = Number.isFinite(d.getTime()) ? d.getTime() : 0;
  const sec = Math.floor(ms / 1000);
  times[i] = BigInt(sec);
  times[i + 1] = BigInt(Math.round((ms - sec * 1000) * 1e6));
}

/** utimensat(AT_SYMLINK_NOFOLLOW): the entry's own atime and mtime, never a symlink's target. */
export function lutimesat(dirfd: number, name: string, atime: Date, mtime: Date): void {
  setTimespec(0, atime);
  setTimespec(2, mtime);
  check(libc().utimensat(dirfd, noNul(name), times, AT_SYMLINK_NOFOLLOW), 'utimensat', name);
}

/** PATH_MAX: the kernel never returns a longer symlink target. */
const linkBuf = Buffer.alloc(4096);

/** The target of the symlink `name` in dirfd (readlinkat never follows the last component). */
export function readlinkat(dirfd: number, name: string): string {
  const n = libc().readlinkat(dirfd, noNul(name), linkBuf, linkBuf.length);
  if (n < 0) throw atError('readlinkat', name);
  return linkBuf.toString('utf8', 0, n);
}

export function fsetxattr(fd: number, name: string, value: Buffer): void {
  check(libc().fsetxattr(fd, noNul(name), value, value.length, 0), 'fsetxattr', name);
}

/**
 * Removes `name` in dirfd and, if it is a directory, everything below it: each level is opened
 * O_NOFOLLOW relative to the one above, so a symlink swapped in anywhere is unlinked, not entered.
 * Holds one fd per level of depth (at most PATH_MAX / 2 levels: the tree came from tar names).
 * Lists a directory through /proc/self/fd (Node has no fdopendir), which names that fd's inode.
 */
export function removeAt(dirfd: number, name: string): void {
  try {
    unlinkat(dirfd, name, 0);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code !== 'EISDIR') throw e;
  }
  const fd = openat2(dirfd, name, C.O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
  try {
    for (const child of readdirSync(`/proc/self/fd/${fd}`)) removeAt(fd, child);
  } finally {
    closeSync(fd);
  }
  unlinkat(dirfd, name, AT_REMOVEDIR);
}

/** lstat of `name` in dirfd (an O_PATH fd, so a fifo or device is never opened); undefined when absent. */
export function lstatAt(dirfd: number, name: string): Stats | undefined {
  let fd: number;
  try {
    fd = openat2(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return fstatSync(fd);
  } finally {
    closeSync(fd);
  }
}
