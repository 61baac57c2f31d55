// Makes an unpacked layer durable before its snapshot is committed: after a power loss a committed
// snapshot (meta.json written) must not hold empty or missing files.
//
// Two ways, chosen per layer by its size in inodes:
// - Small layers (up to FSYNC_MAX files and FSYNC_MAX directories): each written file's fd is kept
//   and fsynced at the end, all at once on libuv's pool (ext4 folds concurrent fsyncs into one
//   journal commit), then every directory once. Files are never re-opened by path: a later entry
//   may have swapped a parent for a symlink to /dev, and opening a device has side effects.
//   Directories are opened by the extractor (O_DIRECTORY, resolved inside the snapshot root).
// - Larger layers: one syncfs(2) of the snapshot's file system at the end (what containerd's
//   `image_pull_with_sync_fs` does). Per-file fsync costs a journal commit per batch: a layer of
//   10,000 small files took 11.2 s with batched fsyncs against 1.6 s without on journaled ext4
//   (2026-12-05, docs/performance.md). syncfs also waits for other writers' dirty data on that
//   file system, which is why small layers, the common case, keep their own fsyncs.
import { closeSync } from 'node:fs';
import { closeFd, fsyncFd, syncfsFd } from './fsync-dir.js';

/** Files or directories a layer may have before it switches to one syncfs; also the fds it holds. */
const FSYNC_MAX = 64;
/** Directory fsyncs in flight: bounded so they do not flood the pool. */
const DIR_CONCURRENCY = 8;

export class LayerSync {
  private fds: number[] = [];
  private readonly dirs = new Set<string>();
  /** Past FSYNC_MAX: files are closed at once and the whole file system is synced at the end. */
  private wholeFs = false;

  /** Takes over `fd` of a file fully written: it is fsynced (or covered by syncfs) and closed. */
  adoptFile(fd: number): void {
    if (this.wholeFs) {
      closeSync(fd);
      return;
    }
    this.fds.push(fd);
    if (this.fds.length > FSYNC_MAX) this.switchToSyncfs();
  }

  /** A directory this layer created (or whose entries it changed), by its path in the snapshot. */
  dirChanged(p: string): void {
    if (this.wholeFs) return;
    this.dirs.add(p);
    if (this.dirs.size > FSYNC_MAX) this.switchToSyncfs();
  }

  private switchToSyncfs(): void {
    this.wholeFs = true;
    this.abandon();
    this.dirs.clear();
  }

  /**
   * Syncs what the layer wrote: its files, then every directory, each opened by `openDir`
   * (undefined: removed or replaced by a later entry, and whatever replaced it is in a directory
   * synced too); or, past FSYNC_MAX, the file system of the root (`openDir('')`).
   */
  async finish(openDir: (p: string) => number | undefined): Promise<void> {
    if (this.wholeFs) {
      const fd = openDir('');
      if (fd === undefined) throw new Error('the snapshot root is gone: nothing to sync');
      await syncfsFd(fd).finally(() => closeFd(fd));
      return;
    }
    const fds = this.fds;
    this.fds = [];
    const results = await Promise.allSettled(fds.map((fd) => fsyncFd(fd).finally(() => closeFd(fd))));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const dirs = [...this.dirs];
    let next = 0;
    const worker = async () => {
      while (next < dirs.length) {
        const fd = openDir(dirs[next++]!);
        if (fd !== undefined) await fsyncFd(fd).finally(() => closeFd(fd));
      }
    };
    await Promise.all(Array.from({ length: Math.min(DIR_CONCURRENCY, dirs.length) }, worker));
  }

  /** On failure (and when switching to syncfs): closes held fds without syncing them. */
  abandon(): void {
    for (const fd of this.fds) closeSync(fd);
    this.fds = [];
  }
}
