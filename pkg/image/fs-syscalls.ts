// Device-number helpers for mknodat (device nodes, and overlay whiteouts, which are char devices
// 0/0), and lgetxattr, which Node lacks (tests read overlay's opaque marker with it). The calls
// extraction makes are the directory-fd-relative ones in at-fs.ts.
import koffi from 'koffi';
import { atError } from './at-fs.js';

export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

/** glibc's makedev for the 64-bit dev_t. Device numbers in tar headers fit in 21 bits. */
export function makedev(major: number, minor: number): number {
  return ((major & 0xfff) << 8) + (minor & 0xff) + (minor & ~0xff) * 4096 + (major & ~0xfff) * 2 ** 32;
}

type LgetxattrFn = (path: string, name: string, value: Buffer, size: number) => number;
let getx: LgetxattrFn | undefined;
const ENODATA = 61;

/** Reads an xattr without following symlinks; undefined when absent. */
export function lgetxattr(path: string, name: string): Buffer | undefined {
  getx ??= koffi.load('libc.so.6').func('long lgetxattr(const char *path, const char *name, void *value, size_t size)') as LgetxattrFn;
  const buf = Buffer.alloc(4096);
  const n = getx(path, name, buf, buf.length);
  if (n < 0) {
    const errno = koffi.errno();
    if (errno === ENODATA) return undefined;
    throw atError('lgetxattr', path, errno);
  }
  return buf.subarray(0, n);
}
