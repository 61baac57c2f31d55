// Writable-layer usage per container, cached. Measuring it walks the container's whole overlay
// upper dir (an lstat per file): a container that unpacked a node_modules or a package cache has
// 10^5 files, and kubelet asks for every container's stats every 10 s (summary API, eviction
// manager) plus on each ContainerStats. containerd keeps these numbers from a background
// collector that runs every stats_collect_period = 10 s; we do the same lazily:
//  - a value younger than MAX_AGE_MS is served as is;
//  - an older one is served too (it is at most one period late), and one walk refreshes it in the
//    background; the first request for a container waits for its first walk;
//  - never two walks of one container at a time, however many RPCs ask.
import { dirUsage } from './dir-usage.js';

/** containerd's default stats_collect_period, and kubelet's stats polling interval. */
export const LAYER_USAGE_MAX_AGE_MS = 10_000;

export interface LayerUsage {
  bytes: bigint;
  inodes: bigint;
}

interface Entry {
  usage?: LayerUsage;
  measuredAt: number;
  walking?: Promise<LayerUsage>;
}

export class LayerUsageCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly measure: (dir: string) => Promise<LayerUsage> = dirUsage,
    private readonly now: () => number = Date.now,
    private readonly maxAgeMs = LAYER_USAGE_MAX_AGE_MS,
  ) {}

  /** Usage of `dir`, the upper dir of container `id`. */
  async get(id: string, dir: string): Promise<LayerUsage> {
    const e = this.entries.get(id) ?? { measuredAt: 0 };
    this.entries.set(id, e);
    const fresh = e.usage && this.now() - e.measuredAt < this.maxAgeMs;
    if (!fresh && !e.walking) {
      e.walking = this.measure(dir).then(
        (u) => {
          e.usage = u;
          e.measuredAt = this.now();
          e.walking = undefined;
          return u;
        },
        (err: unknown) => {
          e.walking = undefined;
          throw err;
        },
      );
      // A background refresh nobody awaits must not become an unhandled rejection.
      e.walking.catch(() => undefined);
    }
    if (e.usage) return e.usage;
    return e.walking!;
  }

  /** Drops the entries of containers that no longer exist. */
  retainOnly(ids: ReadonlySet<string>): void {
    for (const id of this.entries.keys()) if (!ids.has(id)) this.entries.delete(id);
  }

  get size(): number {
    return this.entries.size;
  }
}
