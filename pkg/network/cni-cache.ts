// What ADD used, kept on disk so DEL/CHECK/status work after a config change or a daemon restart
// (libcni keeps the same in /var/lib/cni/results). Written before ADD starts, so a crash in the
// middle of ADD still leaves DEL the config and runtime values it must repeat.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { readJson, writeJsonAtomic } from '../store/atomic-file.js';
import type { NetworkConfList } from './cni-config.js';

export interface CniCacheEntry {
  kind: 'bulkheadCniCacheV1';
  containerId: string;
  ifName: string;
  netns: string;
  /** The network config list ADD ran with. */
  config: NetworkConfList;
  cniArgs: [string, string][];
  /** Capability values (runtimeConfig source) ADD ran with. */
  capabilityValues: Record<string, unknown>;
  /** The raw result of the last plugin; absent while ADD is in progress or when it failed. */
  result?: Record<string, unknown>;
  /**
   * Whether ADD ran the CNI loopback plugin (so DEL runs it too). False for new entries: the pod
   * netns setup brings `lo` up itself; entries written by older versions lack the field and ran it.
   */
  loopback?: boolean;
}

export class CniCache {
  constructor(private readonly dir: string) {}

  private file(podId: string): string {
    if (!/^[A-Za-z0-9_.-]+$/.test(podId)) throw new Error(`invalid pod id "${podId}"`);
    return join(this.dir, `${podId}.json`);
  }

  get(podId: string): Promise<CniCacheEntry | undefined> {
    return readJson<CniCacheEntry>(this.file(podId));
  }

  put(entry: CniCacheEntry): Promise<void> {
    return writeJsonAtomic(this.file(entry.containerId), entry);
  }

  /** Pod ids with an entry (set up, or torn down only partly). */
  async ids(): Promise<string[]> {
    try {
      return (await readdir(this.dir)).filter((f) => f.endsWith('.json') && !f.startsWith('.')).map((f) => f.slice(0, -5)).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  async remove(podId: string): Promise<void> {
    await rm(this.file(podId), { force: true });
  }
}
