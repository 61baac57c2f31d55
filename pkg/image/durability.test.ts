// Power loss: everything a committed snapshot or stored blob depends on is fsynced first. fsync is
// wrapped to record the inode of every fd synced; the tests compare that against the tree.
import { afterAll, describe, expect, it, vi } from 'vitest';
import { lstatSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import pino from 'pino';
import { extractTar } from './unpack.js';
import { ContentStore } from './content-store.js';
import { SnapshotStore } from './snapshots.js';
import { makeTar } from '../../test/fakes/tar.js';

const synced = vi.hoisted(() => new Set<number>());
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const fsync = (fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => {
    synced.add(fs.fstatSync(fd).ino);
    fs.fsync(fd, cb);
  };
  return { ...fs, default: { ...fs, fsync }, fsync };
});
/** Devices syncfs'd, and the files that existed on each when it ran (syncfs covers what came before). */
const syncfsCalls = vi.hoisted(() => [] as Array<{ dev: number }>);
vi.mock('./fsync-dir.js', async (importOriginal) => {
  const mod = await importOriginal<typeof import('./fsync-dir.js')>();
  const { fstatSync } = await import('node:fs');
  return {
    ...mod,
    syncfsFd: async (fd: number) => {
      syncfsCalls.push({ dev: fstatSync(fd).dev });
      await mod.syncfsFd(fd);
    },
  };
});

const top = mkdtempSync(join(tmpdir(), 'bulkhead-durable-'));
afterAll(() => rmSync(top, { recursive: true, force: true }));


function walk(dir: string, out: string[] = []): string[] {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    out.push(p);
    if (lstatSync(p).isDirectory()) walk(p, out);
  }
  return out;
}

const openFds = () => readdirSync('/proc/self/fd').length;

/** A layer of `dirs` directories with `files` files each under d<n>/sub/, and a symlink each. */
function layerEntries(dirs: number, files: number) {
  const entries = [];
  for (let d = 0; d < dirs; d++) {
    entries.push({ name: `d${d}/`, type: 'directory' as const, mode: 0o755 });
    for (let f = 0; f < files; f++) entries.push({ name: `d${d}/sub/f${f}`, body: `file ${d}/${f}` });
    entries.push({ name: `d${d}/link`, type: 'symlink' as const, linkname: 'sub/f0' });
  }
  return entries;
}

async function extractFresh(name: string, entries: ReturnType<typeof layerEntries>): Promise<string> {
  const root = join(top, name, 'fs');
  await import('node:fs').then((fs) => fs.mkdirSync(root, { recursive: true }));
  const fdsBefore = openFds();
  synced.clear();
  syncfsCalls.length = 0;
  await extractTar(Readable.from([await makeTar(entries)]), { root, allowDevices: false });
  expect(openFds()).toBe(fdsBefore);
  return root;
}

describe('durability before commit', () => {
  it('fsyncs every file and directory of a small layer before extractTar resolves, and leaks no fd', async () => {
    const root = await extractFresh('small', layerEntries(3, 10)); // 30 files, 7 directories
    const unsynced = [root, ...walk(root)].filter((p) => !lstatSync(p).isSymbolicLink() && !synced.has(lstatSync(p).ino));
    expect(unsynced).toEqual([]);
    expect(syncfsCalls).toEqual([]);
  });

  it('syncs the file system of a layer past 64 files once, after its last file, and leaks no fd', async () => {
    const root = await extractFresh('large', layerEntries(7, 30)); // 210 files
    expect(syncfsCalls).toEqual([{ dev: statSync(root).dev }]);
    // Files past the switch are not fsynced one by one (that is the point: one commit, not 210).
    expect(walk(root).filter((p) => synced.has(lstatSync(p).ino))).toEqual([]);
  });

  it('switches to one syncfs for a layer of many directories and few files', async () => {
    const entries = Array.from({ length: 100 }, (_, i) => ({ name: `e${i}/`, type: 'directory' as const, mode: 0o755 }));
    await extractFresh('dirs', entries);
    expect(syncfsCalls.length).toBe(1);
  });

  it('fsyncs the blob directory after the rename and snapshots/ after a commit', async () => {
    const data = Buffer.from('blob');
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    const content = new ContentStore(top);
    synced.clear();
    await content.write(digest, data);
    // (the blob file itself is synced through a FileHandle before the rename, as before)
    expect(synced.has(statSync(join(top, 'content', 'blobs', 'sha256')).ino)).toBe(true);

    const snaps = SnapshotStore.open(top, pino({ level: 'silent' }));
    synced.clear();
    await snaps.ensure('sha256:c', 'sha256:d', null, async () => undefined);
    expect(synced.has(statSync(snaps.dir).ino)).toBe(true);
  });
});
