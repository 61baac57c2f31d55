// Makes an unpacked layer durable before its snapshot is committed: after a power loss a committed
// snapshot (meta.json written) must not hold empty or missing files.
//
// Batched, not per write: a written file's fd is kept and fsynced with up to FILE_BATCH others at
// once on libuv's pool (ext4 folds concurrent fsyncs into one journal commit), then closed. Files
// are never re-opened by path: a later entry may have swapped a parent for a symlink to /dev, and
// opening a device has side effects. Directories are fsynced once each at the end, opened by the
// extractor (O_DIRECTORY, resolved inside the snapshot root), which can only ever open a directory.
import { close } from 'node:fs';
import { closeFd, fsyncFd } from './fsync-dir.js';

/** Open fds held per layer: far below any RLIMIT_NOFILE, enough to keep the pool's 4 threads busy. */
const FILE_BATCH = 64;
/** Directory fsyncs in flight: bounded so a layer of 100k directories does not flood the pool. */
const DIR_CONCURRENCY = 8;

export class LayerSync {
  private fds: number[] = [];
  private readonly dirs = new Set<string>();

  /** Takes over `fd` of a file fully written: it is fsynced and closed in a later batch. */
  async adoptFile(fd: number): Promise<void> {
    this.fds.push(fd);
    if (this.fds.length >= FILE_BATCH) await this.flushFiles();
  }

  /** A directory this layer created (or whose entries it changed), by its path in the snapshot. */
  dirChanged(p: string): void {
    this.dirs.add(p);
  }

  private async flushFiles(): Promise<void> {
    const fds = this.fds;
    this.fds = [];
    const results = await Promise.allSettled(fds.map((fd) => fsyncFd(fd).finally(() => closeFd(fd))));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * Fsyncs what is left: files first, then every directory, each opened by `openDir` (undefined:
   * removed or replaced by a later entry, and whatever replaced it is in a directory synced too).
   */
  async finish(openDir: (p: string) => number | undefined): Promise<void> {
    await this.flushFiles();
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

  /** On failure: closes held fds without syncing (the snapshot is being removed). */
  abandon(): void {
    for (const fd of this.fds) close(fd, () => undefined);
    this.fds = [];
  }
}
