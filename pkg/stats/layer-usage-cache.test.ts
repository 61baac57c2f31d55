import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LayerUsageCache, type LayerUsage } from './layer-usage-cache.js';
import { StatsService } from './stats-service.js';
import type { ContainerManager } from '../container/container-manager.js';
import type { SandboxManager } from '../sandbox/sandbox-manager.js';
import type { ContainerRecord } from '../store/records.js';

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

describe('writable layer usage cache', () => {
  it('walks once per period, serves the stale value while one walk refreshes it, never walks a container twice at once', async () => {
    let now = 0;
    let walks = 0;
    let bytes = 100n;
    let release: (() => void) | undefined;
    const measure = (): Promise<LayerUsage> => {
      walks++;
      const b = bytes;
      return new Promise((r) => (release = () => r({ bytes: b, inodes: 1n })));
    };
    const cache = new LayerUsageCache(measure, () => now, 10_000);
    // Concurrent first requests share the one walk.
    const first = Promise.all([cache.get('c1', '/x'), cache.get('c1', '/x')]);
    release!();
    expect((await first).map((u) => u.bytes)).toEqual([100n, 100n]);
    expect(walks).toBe(1);
    now = 9_999;
    expect((await cache.get('c1', '/x')).bytes).toBe(100n);
    expect(walks).toBe(1);
    // Past the period: the old value at once, one refresh behind it however many ask.
    now = 10_000;
    bytes = 200n;
    expect((await cache.get('c1', '/x')).bytes).toBe(100n);
    expect((await cache.get('c1', '/x')).bytes).toBe(100n);
    expect(walks).toBe(2);
    release!();
    await tick();
    expect((await cache.get('c1', '/x')).bytes).toBe(200n);
    cache.retainOnly(new Set());
    expect(cache.size).toBe(0);
  });

  it('ContainerStats does not walk the writable layer on every call', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bh-layer-'));
    mkdirSync(join(dir, 'upper'));
    writeFileSync(join(dir, 'upper', 'a'), Buffer.alloc(4096, 1));
    const c = { id: 'c1', handler: 'runc', dir, cgroupsPath: '/nonexistent', config: { metadata: null, labels: {}, annotations: {} } } as unknown as ContainerRecord;
    const sandboxes = { runtimes: new Map() } as unknown as SandboxManager;
    const containers = { all: () => [c] } as unknown as ContainerManager;
    const stats = new StatsService(sandboxes, containers);
    const used = async (): Promise<bigint> => BigInt(((await stats.containerStats(c)).writable_layer?.used_bytes?.value as string | undefined) ?? '0');
    const before = await used();
    expect(before).toBeGreaterThan(0n);
    // A new 1 MiB file shows up only once the cached figure is refreshed (10 s), not on the next call.
    writeFileSync(join(dir, 'upper', 'b'), Buffer.alloc(1024 * 1024, 1));
    expect(await used()).toBe(before);
  });
});
