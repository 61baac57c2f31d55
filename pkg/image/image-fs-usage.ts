// What the image store occupies on disk (CRI ImageFsInfo: kubelet's image GC and eviction read it
// every 10 s or so). Committed snapshots never change, so each is walked once and its usage kept;
// the total is cached for 5 s and dropped whenever a pull, import or GC changes the store.
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ContentStore } from './content-store.js';
import type { SnapshotStore } from './snapshots.js';

export interface FsUsage {
  mountpoint: string;
  usedBytes: number;
  inodesUsed: number;
}

const CACHE_MS = 5_000;

export class ImageFsUsage {
  private readonly perSnapshot = new Map<number, { bytes: number; inodes: number }>();
  private cached: { at: number; value: FsUsage } | undefined;

  constructor(private readonly log: Logger) {}

  invalidate(): void {
    this.cached = undefined;
  }

  async read(snapshots: SnapshotStore, content: ContentStore): Promise<FsUsage> {
    if (this.cached && Date.now() - this.cached.at < CACHE_MS) return this.cached.value;
    let bytes = 0;
    let inodes = 0;
    const live = new Set<number>();
    for (const snap of snapshots.list()) {
      live.add(snap.n);
      let u = this.perSnapshot.get(snap.n);
      if (!u) {
        u = await diskUsage(join(snapshots.dir, String(snap.n)));
        this.perSnapshot.set(snap.n, u);
      }
      bytes += u.bytes;
      inodes += u.inodes;
    }
    for (const n of this.perSnapshot.keys()) if (!live.has(n)) this.perSnapshot.delete(n);
    const c = content.usage();
    const value = { mountpoint: snapshots.dir, usedBytes: bytes + c.bytes, inodesUsed: inodes + c.inodes };
    this.log.debug({ snapshots: [...this.perSnapshot.entries()], content: c }, 'image filesystem usage');
    this.cached = { at: Date.now(), value };
    return value;
  }
}

/** Allocated bytes and inodes under a directory (hardlinks counted once), like `du`. */
async function diskUsage(dir: string): Promise<{ bytes: number; inodes: number }> {
  const seen = new Set<number>();
  let bytes = 0;
  let inodes = 0;
  const walk = async (d: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      return; // removed meanwhile (GC): counts as empty
    }
    for (const name of names) {
      const p = join(d, name);
      let st;
      try {
        st = await lstat(p);
      } catch {
        continue; // removed meanwhile
      }
      if (seen.has(st.ino)) continue;
      seen.add(st.ino);
      bytes += st.blocks * 512;
      inodes++;
      if (st.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  return { bytes, inodes };
}
