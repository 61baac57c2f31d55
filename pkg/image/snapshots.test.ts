import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SnapshotStore } from './snapshots.js';
import { ContentStore } from './content-store.js';
import { ImageStore } from './image-store.js';

const log = pino({ level: 'silent' });
const root = mkdtempSync(join(tmpdir(), 'bulkhead-snap-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('snapshots', () => {
  it('commits after the fill, shares concurrent fills, removes failed and half snapshots', async () => {
    const s = SnapshotStore.open(root, log);
    let fills = 0;
    const fill = async (fs: string) => {
      fills++;
      await new Promise((r) => setTimeout(r, 20));
      writeFileSync(join(fs, 'f'), 'x');
    };
    const [a, b] = await Promise.all([s.ensure('sha256:c1', 'sha256:d1', null, fill), s.ensure('sha256:c1', 'sha256:d1', null, fill)]);
    expect(fills).toBe(1);
    expect(a).toBe(b);
    await expect(s.ensure('sha256:c2', 'sha256:d2', 'sha256:c1', async () => Promise.reject(new Error('ENOSPC')))).rejects.toThrow('ENOSPC');
    expect(readdirSync(s.dir).filter((n) => /^\d+$/.test(n))).toEqual([String(a.n)]);
    // a half snapshot (no meta.json) left by a crash
    mkdirSync(join(s.dir, '99', 'fs'), { recursive: true });
    const reopened = SnapshotStore.open(root, log);
    expect(existsSync(join(s.dir, '99'))).toBe(false);
    expect(reopened.get('sha256:c1')?.n).toBe(a.n);
    await reopened.remove('sha256:c1');
    expect(existsSync(join(s.dir, String(a.n)))).toBe(false);
  });
});

describe('snapshot tree permissions', () => {
  const modeOf = (p: string) => (statSync(p).mode & 0o777).toString(8);

  it('makes the image root and snapshots 0700, and repairs trees left 0711 by older versions', async () => {
    const fresh = join(root, 'fresh-root');
    const store = await ImageStore.open({ root: fresh, registryConfigDir: join(fresh, 'no-certs.d'), log, maxConcurrentDownloads: 1, progressTimeoutMs: 1000 });
    await store.close();
    expect([modeOf(fresh), modeOf(join(fresh, 'snapshots'))]).toEqual(['700', '700']);

    const old = join(root, 'old-root');
    mkdirSync(join(old, 'snapshots', 'empty'), { recursive: true });
    chmodSync(old, 0o711);
    chmodSync(join(old, 'snapshots'), 0o711);
    const reopened = await ImageStore.open({ root: old, registryConfigDir: join(old, 'no-certs.d'), log, maxConcurrentDownloads: 1, progressTimeoutMs: 1000 });
    await reopened.close();
    expect([modeOf(old), modeOf(join(old, 'snapshots'))]).toEqual(['700', '700']);
  });
});

describe('content store', () => {
  it('verifies digest and size and stores atomically', async () => {
    const c = new ContentStore(root);
    const data = Buffer.from('hello');
    const d = 'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';
    await expect(c.write(d, Buffer.from('hellO'))).rejects.toThrow(/digest/);
    await expect(c.write(d, data, 6)).rejects.toThrow(/size/);
    expect(c.has(d)).toBe(false);
    await c.write(d, data);
    expect((await c.read(d)).toString()).toBe('hello');
    expect(readdirSync(join(root, 'content', 'ingest'))).toEqual([]);
  });
});

describe('download semaphore', () => {
  it('never runs more than its limit and keeps FIFO order', async () => {
    const { Semaphore } = await import('./puller.js');
    const sem = new Semaphore(2);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        sem.run(async () => {
          active++;
          peak = Math.max(peak, active);
          order.push(i);
          await new Promise((r) => setTimeout(r, 5));
          active--;
        }),
      ),
    );
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});
