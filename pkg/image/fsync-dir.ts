// Durability primitives: fsync(2) of a directory, so the entries created, renamed or removed in it
// survive a power loss (fsync of a file does not persist its name; opened O_DIRECTORY|O_NOFOLLOW:
// only ever a directory), and syncfs(2) of a whole file system (LayerSync, for large layers).
import koffi from 'koffi';
import { close, constants as C, fsync, open } from 'node:fs';
import { getSystemErrorName } from 'node:util';
import { isMainThread } from 'node:worker_threads';

const O_DIR_SYNC = C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW | C.O_NONBLOCK | 0o2000000; /* O_CLOEXEC */
/** What a directory that was removed or replaced since looks like: nothing of it left to sync. */
const GONE = new Set(['ENOENT', 'ENOTDIR', 'ELOOP']);

export const fsyncFd = (fd: number) => new Promise<void>((resolve, reject) => fsync(fd, (e) => (e ? reject(e) : resolve())));
export const closeFd = (fd: number) => new Promise<void>((resolve) => close(fd, () => resolve()));

/** `ignoreGone`: a directory that no longer exists (or is no longer one) is skipped, not an error. */
export async function fsyncDir(p: string, ignoreGone = false): Promise<void> {
  const fd = await new Promise<number | undefined>((resolve, reject) =>
    open(p, O_DIR_SYNC, (e, fd) => {
      if (e && ignoreGone && GONE.has(e.code ?? '')) resolve(undefined);
      else if (e) reject(e);
      else resolve(fd);
    }),
  );
  if (fd === undefined) return;
  try {
    await fsyncFd(fd);
  } finally {
    await closeFd(fd);
  }
}

type SyncfsFn = ((fd: number) => number) & { async: (fd: number, cb: (e: Error | null, r: number) => void) => void };
let syncfsFn: SyncfsFn | undefined;

/**
 * syncfs(2) of the file system holding `fd`: every dirty page and inode on it, then one journal
 * commit. It can take seconds on a busy disk, so it never runs on the daemon's event loop nor on
 * libuv's 4-thread pool, which posix_spawn, fsync and zlib share (4 layers syncing there at once
 * would hold every pod start's spawns): in a worker thread (where layers unpack) it blocks that
 * thread, whose layer is done but for this; on the main thread (tests, tools) it runs on the pool.
 */
export function syncfsFd(fd: number): Promise<void> {
  syncfsFn ??= koffi.load('libc.so.6').func('int syncfs(int fd)') as unknown as SyncfsFn;
  const fn = syncfsFn;
  const failed = (errno: number | undefined): Error =>
    Object.assign(new Error(`syncfs of the snapshot file system failed: ${errno ? getSystemErrorName(-errno) : 'EIO'}`), { code: errno ? getSystemErrorName(-errno) : 'EIO', syscall: 'syncfs' });
  if (!isMainThread) return fn(fd) < 0 ? Promise.reject(failed(koffi.errno())) : Promise.resolve();
  // An async koffi call leaves errno unread: EIO for any failure.
  return new Promise((resolve, reject) => fn.async(fd, (e, r) => (e ? reject(e) : r < 0 ? reject(failed(undefined)) : resolve())));
}
