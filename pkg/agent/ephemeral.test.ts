import { describe, expect, it } from 'vitest';
import { checkEphemeralVolumes, EphemeralVolumes, MAX_EPHEMERAL_VOLUMES, type EphemeralHost } from './ephemeral.js';

const DIR = '/run/bulkhead/ephemeral';
const GiB = 1n << 30n;

/** A guest whose file tree is a map path -> kind; mounts and mkdirs are recorded. */
function fakeGuest(tree: Record<string, 'symlink' | 'dir' | 'other'> = {}, opts: { mountDelayMs?: number; failMount?: boolean } = {}) {
  const mounts: [string, bigint, number, number, number][] = [];
  const mkdirs: [string, number][] = [];
  const host: EphemeralHost = {
    isMounted: (p) => mounts.some((m) => m[0] === p),
    async mountTmpfs(path, v) {
      if (opts.mountDelayMs) await new Promise((r) => setTimeout(r, opts.mountDelayMs));
      if (opts.failMount) throw new Error('mount: permission denied');
      mounts.push([path, v.sizeBytes, v.mode, v.uid, v.gid]);
      tree[path] = 'dir';
    },
    memTotalBytes: () => GiB,
    mode: (p) => mounts.find((m) => m[0] === p)?.[2] ?? 0o755,
    kind: (p) => tree[p] ?? 'missing',
    mkdir(p, mode) {
      mkdirs.push([p, mode]);
      tree[p] = 'dir';
    },
  };
  return { host, mounts, mkdirs, tree };
}

const vol = (name: string, size = '16777216', mode = 0o777, gid = 0) => ({ name, size_bytes: size, mode, uid: 0, gid });
const bind = (source: string) => ({ destination: '/c', type: 'bind', source, options: ['rbind', 'rw'] });

describe('checkEphemeralVolumes', () => {
  it('bounds the size by guest RAM (0 = unlimited host tmpfs) and defaults the mode to 0777', () => {
    expect(checkEphemeralVolumes([vol('a'), vol('b', '0', 0), vol('c', String(8n * GiB), 0o2777, 123)], GiB)).toEqual([
      { name: 'a', sizeBytes: 16777216n, mode: 0o777, uid: 0, gid: 0 },
      { name: 'b', sizeBytes: GiB, mode: 0o777, uid: 0, gid: 0 },
      { name: 'c', sizeBytes: GiB, mode: 0o2777, uid: 0, gid: 123 },
    ]);
  });

  it('refuses names that are not one path component, bad sizes and modes', () => {
    for (const name of ['', '.', '..', '../x', 'a/b', '/abs', '-x', 'x'.repeat(254), 'a b']) {
      expect(() => checkEphemeralVolumes([vol(name)], GiB), name).toThrow(/bad guest-RAM volume name/);
    }
    for (const size of ['-1', '1e9', '', '0x10', '123456789012345678901']) expect(() => checkEphemeralVolumes([vol('a', size)], GiB), size).toThrow(/bad size/);
    expect(() => checkEphemeralVolumes([vol('a', '1', 0o10000)], GiB)).toThrow(/bad mode/);
    expect(() => checkEphemeralVolumes([vol('a', '1', 0o777, 0xffffffff)], GiB)).toThrow(/bad owner/);
    expect(() => checkEphemeralVolumes(Array.from({ length: MAX_EPHEMERAL_VOLUMES + 1 }, (_, i) => vol(`v${i}`)), GiB)).toThrow(/at most/);
  });
});

describe('EphemeralVolumes', () => {
  it('mounts a volume once per pod: the next container binds the same tmpfs', async () => {
    const g = fakeGuest();
    const e = new EphemeralVolumes(g.host, DIR);
    await e.prepare([vol('cache')], [bind(`${DIR}/cache`)]);
    await e.prepare([vol('cache', '999')], [bind(`${DIR}/cache`)]);
    expect(g.mounts).toEqual([[`${DIR}/cache`, 16777216n, 0o777, 0, 0]]);
  });

  it('two creates at once still mount it once', async () => {
    const g = fakeGuest({}, { mountDelayMs: 20 });
    const e = new EphemeralVolumes(g.host, DIR);
    await Promise.all([e.prepare([vol('cache')], [bind(`${DIR}/cache`)]), e.prepare([vol('cache')], [bind(`${DIR}/cache`)])]);
    expect(g.mounts).toHaveLength(1);
  });

  it('refuses a spec source under the dir that names no mounted volume', async () => {
    const e = new EphemeralVolumes(fakeGuest().host, DIR);
    await expect(e.prepare([], [bind(`${DIR}/other`)])).rejects.toThrow(/not a guest-RAM volume of this pod/);
    await expect(e.prepare([], [bind(DIR)])).rejects.toThrow(/not a guest-RAM volume/);
    // Other sources are none of its business; garbage entries are skipped.
    await e.prepare([], [bind('/run/bulkhead/share/c1/vol0'), null, 7, { source: 3 }, bind(`${DIR}/../share/x`)]);
  });

  it('a failed mount is Internal and leaves nothing recorded', async () => {
    const g = fakeGuest({}, { failMount: true });
    const e = new EphemeralVolumes(g.host, DIR);
    await expect(e.prepare([vol('cache')], [bind(`${DIR}/cache`)])).rejects.toMatchObject({ code: 13 });
    await expect(e.prepare([], [bind(`${DIR}/cache`)])).rejects.toThrow(/not a guest-RAM volume/);
  });

  it('makes a subPath dir with the volume root mode, keeps existing ones, never goes through a symlink', async () => {
    const g = fakeGuest({ [`${DIR}/cache/old`]: 'dir', [`${DIR}/cache/file`]: 'other' });
    const e = new EphemeralVolumes(g.host, DIR);
    await e.prepare([vol('cache', '1', 0o770)], [bind(`${DIR}/cache/logs/app`), bind(`${DIR}/cache/old/x`), bind(`${DIR}/cache/file`)]);
    expect(g.mkdirs).toEqual([
      [`${DIR}/cache/logs`, 0o770],
      [`${DIR}/cache/logs/app`, 0o770],
      [`${DIR}/cache/old/x`, 0o770],
    ]);
    g.tree[`${DIR}/cache/evil`] = 'symlink';
    await expect(e.prepare([], [bind(`${DIR}/cache/evil/x`)])).rejects.toThrow(/symlink/);
    await expect(e.prepare([], [bind(`${DIR}/cache/file/x`)])).rejects.toThrow(/not a directory/);
  });
});
