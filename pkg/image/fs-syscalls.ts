// The few file-system syscalls Node lacks, through koffi: mknod (device nodes and overlay
// whiteouts, which are char devices 0/0) and lsetxattr (overlay opaque directories).
import koffi from 'koffi';

type MknodFn = (path: string, mode: number, dev: number) => number;
type LsetxattrFn = (path: string, name: string, value: Buffer, size: number, flags: number) => number;

let fns: { mknod: MknodFn; lsetxattr: LsetxattrFn } | undefined;

function libc(): { mknod: MknodFn; lsetxattr: LsetxattrFn } {
  if (!fns) {
    const lib = koffi.load('libc.so.6');
    fns = {
      mknod: lib.func('int mknod(const char *path, uint32_t mode, uint64_t dev)') as MknodFn,
      lsetxattr: lib.func('int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)') as LsetxattrFn,
    };
  }
  return fns;
}

const ERRNO_NAMES: Record<number, string> = { 1: 'EPERM', 2: 'ENOENT', 13: 'EACCES', 17: 'EEXIST', 28: 'ENOSPC', 61: 'ENODATA', 95: 'EOPNOTSUPP' };

function fail(call: string, path: string): never {
  const errno = koffi.errno();
  const code = ERRNO_NAMES[errno] ?? `errno ${errno}`;
  const err = new Error(`${call} ${path}: ${code}`) as NodeJS.ErrnoException;
  err.code = code;
  err.errno = errno;
  err.path = path;
  throw err;
}

export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

/** glibc's makedev for the 64-bit dev_t. Device numbers in tar headers fit in 21 bits. */
export function makedev(major: number, minor: number): number {
  return ((major & 0xfff) << 8) + (minor & 0xff) + (minor & ~0xff) * 4096 + (major & ~0xfff) * 2 ** 32;
}

export function mknod(path: string, mode: number, dev: number): void {
  if (libc().mknod(path, mode, dev) !== 0) fail('mknod', path);
}

export function lsetxattr(path: string, name: string, value: Buffer): void {
  if (libc().lsetxattr(path, name, value, value.length, 0) !== 0) fail('lsetxattr', path);
}

type LgetxattrFn = (path: string, name: string, value: Buffer, size: number) => number;
let getx: LgetxattrFn | undefined;

/** Reads an xattr without following symlinks; undefined when absent. */
export function lgetxattr(path: string, name: string): Buffer | undefined {
  getx ??= koffi.load('libc.so.6').func('long lgetxattr(const char *path, const char *name, void *value, size_t size)') as LgetxattrFn;
  const buf = Buffer.alloc(4096);
  const n = getx(path, name, buf, buf.length);
  if (n < 0) {
    if (koffi.errno() === 61) return undefined;
    fail('lgetxattr', path);
  }
  return buf.subarray(0, n);
}
