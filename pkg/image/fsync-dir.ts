// Durability primitives: fsync(2) of a directory, so the entries created, renamed or removed in it
// survive a power loss (fsync of a file does not persist its name; opened O_DIRECTORY|O_NOFOLLOW:
// only ever a directory), and syncfs(2) of a whole file system (LayerSync, for large layers).
import koffi from 'koffi';
import { close, constants as C, fsync, open } from 'node:fs';

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

type SyncfsFn = { async: (fd: number, cb: (e: Error | null, r: number) => void) => void };
let syncfsFn: SyncfsFn | undefined;

/**
 * syncfs(2) of the file system holding `fd`: every dirty page and inode on it, then one journal
 * commit. Runs on libuv's pool (koffi's async call), so neither the event loop nor a layer worker's
 * thread blocks. An async koffi call leaves errno unread, hence EIO for any failure.
 */
export function syncfsFd(fd: number): Promise<void> {
  syncfsFn ??= koffi.load('libc.so.6').func('int syncfs(int fd)') as unknown as SyncfsFn;
  const fn = syncfsFn;
  return new Promise((resolve, reject) =>
    fn.async(fd, (e, r) => {
      if (e) reject(e);
      else if (r < 0) reject(Object.assign(new Error('syncfs of the snapshot file system failed: EIO'), { code: 'EIO', syscall: 'syncfs' }));
      else resolve();
    }),
  );
}
