// Layer snapshots for overlayfs: one directory per layer chain (keyed by chainID, so a base layer
// shared by many images is unpacked once), each holding only that layer's diff in overlay format.
// Paths are short (<root>/snapshots/<n>/fs) because mount's lowerdir string must fit in a page.
// A snapshot counts only once its meta.json (the committed marker) is written, atomically, after
// the layer is fully unpacked; directories without it are half snapshots and go at start-up.
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { readJsonSync, writeJsonAtomic } from '../store/atomic-file.js';
import { fsyncDir } from './fsync-dir.js';

/**
 * Only root may enter: each fs/ holds an image's files with their own modes (setuid binaries,
 * device nodes, 0755 dirs) and is a lower layer shared by running containers, so a local user who
 * could reach it could run, open, read or write them (containerd CVE-2021-41103, CVE-2024-25621).
 * Nothing needs to traverse it but root: overlay resolves lowerdir paths at mount time, as root.
 */
export const SNAPSHOTS_DIR_MODE = 0o700;

export interface SnapshotMeta {
  /** Numeric directory name. */
  n: number;
  chainId: string;
  diffId: string;
  parentChainId: string | null;
  committedAt: string;
}

export class SnapshotStore {
  private readonly byChain = new Map<string, SnapshotMeta>();
  private readonly inflight = new Map<string, Promise<SnapshotMeta>>();
  private next = 1;
  readonly dir: string;

  private constructor(
    root: string,
    private readonly log: Logger,
  ) {
    this.dir = join(root, 'snapshots');
  }

  static open(root: string, log: Logger): SnapshotStore {
    const s = new SnapshotStore(root, log);
    mkdirSync(s.dir, { recursive: true, mode: SNAPSHOTS_DIR_MODE });
    // Trees made by older versions were 0711: repair on every start (mkdir keeps an existing mode).
    chmodSync(s.dir, SNAPSHOTS_DIR_MODE);
    for (const name of readdirSync(s.dir)) {
      const full = join(s.dir, name);
      if (!/^\d+$/.test(name)) {
        // trash from an interrupted removal, or a stray file
        if (name !== 'empty') rmSync(full, { recursive: true, force: true });
        continue;
      }
      const n = Number(name);
      s.next = Math.max(s.next, n + 1);
      const meta = readJsonSync<SnapshotMeta>(join(full, 'meta.json'));
      if (!meta || meta.n !== n || s.byChain.has(meta.chainId)) {
        log.info({ snapshot: n }, 'removing uncommitted snapshot');
        rmSync(full, { recursive: true, force: true });
        continue;
      }
      s.byChain.set(meta.chainId, meta);
    }
    mkdirSync(join(s.dir, 'empty'), { recursive: true, mode: 0o755 });
    return s;
  }

  get(chainId: string): SnapshotMeta | undefined {
    return this.byChain.get(chainId);
  }

  list(): SnapshotMeta[] {
    return [...this.byChain.values()];
  }

  fsPath(s: SnapshotMeta): string {
    return join(this.dir, String(s.n), 'fs');
  }

  /** An always-empty directory, for images without layers (overlay needs one lowerdir). */
  emptyDir(): string {
    return join(this.dir, 'empty');
  }

  /** Snapshots being unpacked right now (not removable). */
  inflightChains(): string[] {
    return [...this.inflight.keys()];
  }

  /** Waits for an in-flight snapshot, if any; undefined when nothing is unpacking it. */
  waitFor(chainId: string): Promise<SnapshotMeta> | undefined {
    return this.inflight.get(chainId);
  }

  /**
   * Returns the committed snapshot for chainId, creating it with `fill(fsDir)` when missing.
   * Concurrent callers for one chainID share one fill. A failed fill leaves no directory behind.
   */
  ensure(chainId: string, diffId: string, parentChainId: string | null, fill: (fsDir: string) => Promise<void>): Promise<SnapshotMeta> {
    const have = this.byChain.get(chainId);
    if (have) return Promise.resolve(have);
    const running = this.inflight.get(chainId);
    if (running) return running;
    const p = this.create(chainId, diffId, parentChainId, fill).finally(() => this.inflight.delete(chainId));
    this.inflight.set(chainId, p);
    return p;
  }

  private async create(chainId: string, diffId: string, parentChainId: string | null, fill: (fsDir: string) => Promise<void>): Promise<SnapshotMeta> {
    const n = this.next++;
    const dir = join(this.dir, String(n));
    const fs = join(dir, 'fs');
    await mkdir(fs, { recursive: true, mode: 0o755 });
    try {
      await fill(fs);
      const meta: SnapshotMeta = { n, chainId, diffId, parentChainId, committedAt: new Date().toISOString() };
      // fill() made the files durable (extractTar); meta.json's write fsyncs <n>/, this the
      // entry <n> in snapshots/: only then is the commit itself durable.
      await writeJsonAtomic(join(dir, 'meta.json'), meta);
      await fsyncDir(this.dir);
      this.byChain.set(chainId, meta);
      this.log.debug({ snapshot: n, chainId }, 'snapshot committed');
      return meta;
    } catch (e) {
      await rm(dir, { recursive: true, force: true }).catch(() => undefined); // best effort on a path already failing; the caller reports the first error
      throw e;
    }
  }

  /** Removes a committed snapshot: uncommit first (rename away), so a crash never leaves a half one counted. */
  async remove(chainId: string): Promise<void> {
    const meta = this.byChain.get(chainId);
    if (!meta) return;
    this.byChain.delete(chainId);
    const dir = join(this.dir, String(meta.n));
    const trash = join(this.dir, `trash-${meta.n}`);
    if (existsSync(dir)) await rename(dir, trash);
    await rm(trash, { recursive: true, force: true });
    this.log.info({ snapshot: meta.n, chainId }, 'snapshot removed');
  }
}
