// Thin koffi binding to mount(2) and umount2(2). Errors carry the errno name as `code`
// (like Node's fs errors) so callers can tolerate e.g. EINVAL (not a mount point) or ENOENT.
// These calls block the calling thread (an overlay umount up to 113 ms in a 20-pod burst): the
// pod paths use mount-async.ts, which runs them on a worker thread.
import koffi from 'koffi';
import { getSystemErrorName } from 'node:util';

export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_REMOUNT = 0x20;
export const MS_BIND = 0x1000;
export const MS_REC = 0x4000;
export const MS_PRIVATE = 1 << 18;
export const MS_SLAVE = 1 << 19;
export const MS_SHARED = 1 << 20;

export const MNT_FORCE = 0x1;
export const MNT_DETACH = 0x2;
export const MNT_EXPIRE = 0x4;
export const UMOUNT_NOFOLLOW = 0x8;

const libc = koffi.load('libc.so.6');
const cMount = libc.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)');
const cUmount2 = libc.func('int umount2(const char *target, int flags)');
const cStrerror = libc.func('const char *strerror(int errnum)');

/** An Error shaped like Node's system errors: code 'EINVAL', errno 22, syscall 'mount', path. */
export interface SysError extends Error {
  code: string;
  errno: number;
  syscall: string;
  path?: string;
}

export function sysError(syscall: string, errno: number, path?: string): SysError {
  const code = errno > 0 ? getSystemErrorName(-errno) : 'UNKNOWN';
  const text = errno > 0 ? (cStrerror(errno) as string) : 'unknown error';
  const err = new Error(`${syscall} ${path ?? ''}: ${code}: ${text}`.replace('  ', ' ')) as SysError;
  err.code = code;
  err.errno = errno;
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  return err;
}

/** mount(2). `fstype` and `data` may be null (bind mounts, propagation changes). Synchronous. */
export function mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null = null): void {
  if (cMount(source, target, fstype, flags, data) !== 0) throw sysError('mount', koffi.errno(), target);
}

/** umount2(2), e.g. umount2(path, MNT_DETACH). Synchronous. */
export function umount2(target: string, flags = 0): void {
  if (cUmount2(target, flags) !== 0) throw sysError('umount2', koffi.errno(), target);
}

/** Lazy unmount that treats "not mounted" (EINVAL) and "gone" (ENOENT) as done. Returns whether it unmounted. */
export function detachIfMounted(target: string): boolean {
  try {
    umount2(target, MNT_DETACH);
    return true;
  } catch (e) {
    const code = (e as SysError).code;
    if (code === 'EINVAL' || code === 'ENOENT') return false;
    throw e;
  }
}
