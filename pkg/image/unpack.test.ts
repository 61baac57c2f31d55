import { afterAll, beforeEach, afterEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { extractTar, findInLowerDirs, UnpackError, type UnpackOptions } from './unpack.js';
import { unpackLayerStream } from './layer-unpack.js';
import { lgetxattr } from './fs-syscalls.js';
import { makeTar, type TarEntry as Entry } from '../../test/fakes/tar.js';


const isRoot = process.getuid?.() === 0;
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const top = mkdtempSync(join(tmpdir(), 'bulkhead-unpack-'));
afterAll(() => rmSync(top, { recursive: true, force: true }));

let n = 0;
let root: string;
let sentinel: string;
let before: string;

/** Names, sizes, modes and mtimes of everything under a dir: the "nothing changed" witness. */
function snapshotOf(dir: string): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      out.push(`${p} ${st.mode} ${st.size} ${st.mtimeMs} ${st.nlink}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.join('\n');
}

beforeEach(() => {
  n++;
  root = join(top, `snap${n}`, 'fs');
  mkdirSync(root, { recursive: true });
  sentinel = join(top, `sentinel${n}`);
  mkdirSync(join(sentinel, 'inner'), { recursive: true });
  writeFileSync(join(sentinel, 'outside'), 'keep');
  writeFileSync(join(sentinel, 'inner', 'file'), 'keep');
  before = snapshotOf(sentinel);
});

afterEach(() => {
  expect(snapshotOf(sentinel)).toBe(before);
});

const opts = (o: Partial<UnpackOptions> = {}): UnpackOptions => ({ root, allowDevices: false, ...o });
const extract = async (entries: Entry[], o: Partial<UnpackOptions> = {}) => extractTar(Readable.from(await makeTar(entries)), opts(o));

describe('layer extraction stays inside the snapshot', () => {
  it('cleans ../ traversal and absolute names against the root', async () => {
    await extract([
      { name: '../../../../etc/x', body: 'a' },
      { name: `/${sentinel}/outside`, body: 'b' },
      { name: `../${sentinel.split('/').pop()}/outside`, body: 'c' },
    ]);
    expect(readFileSync(join(root, 'etc/x'), 'utf8')).toBe('a');
    expect(readFileSync(join(root, sentinel, 'outside'), 'utf8')).toBe('b');
    expect(readFileSync(join(root, sentinel.split('/').pop()!, 'outside'), 'utf8')).toBe('c');
    expect(existsSync('/etc/x')).toBe(false);
  });

  it('resolves an absolute symlink parent inside the root', async () => {
    await extract([
      { name: 'a', type: 'symlink', linkname: sentinel },
      { name: 'a/outside', body: 'evil' },
      { name: 'a/inner/file', body: 'evil' },
    ]);
    expect(readlinkSync(join(root, 'a'))).toBe(sentinel);
    expect(readFileSync(join(root, sentinel, 'outside'), 'utf8')).toBe('evil');
    expect(readFileSync(join(sentinel, 'outside'), 'utf8')).toBe('keep');
  });

  it('clamps relative symlink parents that climb above the root', async () => {
    const up = '../'.repeat(12) + sentinel.slice(1);
    await extract([
      { name: 'd/b', type: 'symlink', linkname: up },
      { name: 'd/b/outside', body: 'evil' },
      { name: 'c', type: 'symlink', linkname: '../../..' },
      { name: 'c/x', body: 'x' },
    ]);
    expect(readFileSync(join(root, sentinel, 'outside'), 'utf8')).toBe('evil');
    expect(readFileSync(join(root, 'x'), 'utf8')).toBe('x');
  });

  it('makes missing directories where a dangling symlink parent points, inside the root', async () => {
    await extract([
      { name: 'l', type: 'symlink', linkname: join(sentinel, 'made') },
      { name: 'l/f', body: 'abs' },
      { name: 'a/r', type: 'symlink', linkname: '../../../../b/c' },
      { name: 'a/r/g', body: 'rel' },
    ]);
    expect(readFileSync(join(root, sentinel, 'made', 'f'), 'utf8')).toBe('abs');
    expect(readFileSync(join(root, 'b', 'c', 'g'), 'utf8')).toBe('rel');
    expect(existsSync(join(sentinel, 'made'))).toBe(false);
  });

  it('treats a hardlink to itself or a repeated hardlink as done', async () => {
    await extract([
      { name: 'f', body: 'x' },
      { name: 'g', type: 'link', linkname: 'f' },
      { name: 'g', type: 'link', linkname: '/f' },
      { name: 'f', type: 'link', linkname: 'f' },
    ]);
    expect(statSync(join(root, 'g')).ino).toBe(statSync(join(root, 'f')).ino);
    expect(statSync(join(root, 'f')).nlink).toBe(2);
  });

  it('hardlinks a symlink itself, never what it points to', async () => {
    await extract([
      { name: 'l', type: 'symlink', linkname: join(sentinel, 'outside') },
      { name: 'l2', type: 'link', linkname: 'l' },
    ]);
    expect(lstatSync(join(root, 'l2')).isSymbolicLink()).toBe(true);
    expect(lstatSync(join(root, 'l2')).ino).toBe(lstatSync(join(root, 'l')).ino);
  });

  it('does not follow a symlink that replaced a directory when setting directory times', async () => {
    await extract([
      { name: 'd/', type: 'directory', mtime: new Date(0) },
      { name: 'd', type: 'symlink', linkname: join(sentinel, 'inner') },
    ]);
    expect(lstatSync(join(root, 'd')).isSymbolicLink()).toBe(true);
  });

  it('never writes through a symlink at the final component', async () => {
    await extract([
      { name: 's', type: 'symlink', linkname: join(sentinel, 'outside') },
      { name: 's', body: 'replaced' },
    ]);
    expect(lstatSync(join(root, 's')).isFile()).toBe(true);
    expect(readFileSync(join(root, 's'), 'utf8')).toBe('replaced');
  });

  it('refuses hardlinks to files that are not in the image', async () => {
    const passwd = statSync('/etc/passwd');
    await expect(extract([{ name: 'p', type: 'link', linkname: '/etc/passwd' }])).rejects.toThrow(UnpackError);
    await expect(extract([{ name: 'q', type: 'link', linkname: `../${sentinel.split('/').pop()}/outside` }])).rejects.toThrow(UnpackError);
    await expect(
      extract([
        { name: 'l', type: 'symlink', linkname: sentinel },
        { name: 'h', type: 'link', linkname: 'l/outside' },
      ]),
    ).rejects.toThrow(UnpackError);
    expect(statSync('/etc/passwd').nlink).toBe(passwd.nlink);
  });

  it('makes hardlinks within the layer, and copies up targets from a lower layer', async () => {
    const lower = join(top, `lower${n}`);
    mkdirSync(join(lower, 'bin'), { recursive: true });
    writeFileSync(join(lower, 'bin', 'busybox'), 'bb');
    await extract(
      [
        { name: 'bin/sh', body: 'shell', mode: 0o755 },
        { name: 'bin/ash', type: 'link', linkname: 'bin/sh' },
        { name: 'bin/ls', type: 'link', linkname: '/bin/busybox' },
      ],
      { lowerLookup: async (p) => (existsSync(join(lower, p)) ? join(lower, p) : undefined) },
    );
    expect(statSync(join(root, 'bin/ash')).ino).toBe(statSync(join(root, 'bin/sh')).ino);
    expect(readFileSync(join(root, 'bin/ls'), 'utf8')).toBe('bb');
    expect(statSync(join(root, 'bin/ls')).ino).toBe(statSync(join(root, 'bin/busybox')).ino);
    rmSync(lower, { recursive: true });
  });

  it('never copies up a host file through a symlink in a lower layer', async () => {
    const lower = join(top, `lower${n}`);
    mkdirSync(join(lower, 'real'), { recursive: true });
    writeFileSync(join(lower, 'real', 'f'), 'ok');
    symlinkSync(sentinel, join(lower, 'lib'));
    expect(findInLowerDirs([lower], 'lib/outside')).toBeUndefined();
    expect(findInLowerDirs([lower], 'real/f')).toBe(join(lower, 'real', 'f'));
    await expect(
      extract([{ name: 'x', type: 'link', linkname: 'lib/outside' }], { lowerLookup: async (p) => findInLowerDirs([lower], p) }),
    ).rejects.toThrow(UnpackError);
    rmSync(lower, { recursive: true });
  });

  it('skips device nodes unless allowed, keeps fifos', async () => {
    const stats = await extract([
      { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 },
      { name: 'run/fifo', type: 'fifo', mode: 0o600 },
    ]);
    expect(stats.skippedDevices).toBe(2);
    expect(existsSync(join(root, 'dev/null'))).toBe(false);
    expect(lstatSync(join(root, 'run/fifo')).isFIFO()).toBe(true);
  });

  it.runIf(isRoot)('creates device nodes when allowed', async () => {
    await extract([{ name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 }], { allowDevices: true });
    const st = lstatSync(join(root, 'dev/null'));
    expect(st.isCharacterDevice()).toBe(true);
    expect(st.rdev).toBe(statSync('/dev/null').rdev);
    expect(st.mode & 0o777).toBe(0o666);
  });

  it.runIf(isRoot)('keeps setuid bits, owners and mtimes as in the image', async () => {
    const mtime = new Date(1_500_000_000_000);
    await extract([
      { name: 'usr/bin/nnp', body: 'x', mode: 0o4755, uid: 0, gid: 0, mtime },
      { name: 'home/u', type: 'directory', mode: 0o750, uid: 1000, gid: 1000, mtime },
      { name: 'home/u/f', body: 'y', mode: 0o2640, uid: 1000, gid: 50000 },
    ]);
    const nnp = statSync(join(root, 'usr/bin/nnp'));
    expect(nnp.mode & 0o7777).toBe(0o4755);
    expect(nnp.mtime.getTime()).toBe(mtime.getTime());
    const u = statSync(join(root, 'home/u'));
    expect([u.uid, u.gid, u.mode & 0o7777, u.mtime.getTime()]).toEqual([1000, 1000, 0o750, mtime.getTime()]);
    const f = statSync(join(root, 'home/u/f'));
    expect([f.uid, f.gid, f.mode & 0o7777]).toEqual([1000, 50000, 0o2640]);
  });

  it('bounds tar bombs by bytes and by entry count', async () => {
    await expect(extract([{ name: 'big', body: Buffer.alloc(5000) }], { limits: { maxBytes: 4096, maxEntries: 100 } })).rejects.toThrow(/size limit/);
    const many = Array.from({ length: 20 }, (_, i) => ({ name: `f${i}`, body: '' }));
    await expect(extract(many, { limits: { maxBytes: 1 << 20, maxEntries: 10 } })).rejects.toThrow(/entries/);
  });

  it('fails, not hangs, when the entry cap hits while the feeder waits on a full parser', async () => {
    // 3000 empty files, cap 2000: the consumer (fsync batches) is slower than gunzip, so the tar
    // parser is full and closed by the failure while the feeder waits to write into it.
    const t = await makeTar(Array.from({ length: 3000 }, (_, i) => ({ name: `f/${i}`, body: '' })));
    const gz = gzipSync(t);
    const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(gz), size: gz.length };
    await expect(unpackLayerStream(Readable.from([gz]), layer, sha(t), opts({ limits: { maxBytes: 1 << 30, maxEntries: 2000 } }))).rejects.toThrow(/limit of 2000 entries/);
  }, 15_000);

  it('caps the whole uncompressed stream, not only file bodies', async () => {
    const limits = { maxBytes: 64 * 1024, maxEntries: 1_000_000 };
    const xtract = async (tarBytes: Buffer) => extractTar(Readable.from([tarBytes]), opts({ limits }));
    // headers only: 300 directories and symlinks, 512-byte headers each, no file content at all
    const noBodies = await makeTar(Array.from({ length: 300 }, (_, i) => (i % 2 ? { name: `d${i}`, type: 'directory' as const } : { name: `l${i}`, type: 'symlink' as const, linkname: 'x' })));
    await expect(xtract(noBodies)).rejects.toThrow(/size limit of 65536 bytes/);
    // a tiny archive followed by 1 MiB of zero blocks
    const small = await makeTar([{ name: 'f', body: 'x' }]);
    await expect(xtract(Buffer.concat([small, Buffer.alloc(1 << 20)]))).rejects.toThrow(/size limit/);
    // payloads of entries that are skipped, never written: whiteouts, the opaque marker, "./"
    const skipped = await makeTar([
      { name: '.wh.gone', body: Buffer.alloc(40_000) },
      { name: 'dir/.wh..wh..opq', body: Buffer.alloc(40_000) },
    ]);
    if (isRoot) await expect(xtract(skipped)).rejects.toThrow(/size limit/);
    // under the cap, the same kinds of entries unpack
    await xtract(small);
    expect(readFileSync(join(root, 'f'), 'utf8')).toBe('x');
  });

  it('lets later duplicate entries win, including type changes', async () => {
    await extract([
      { name: 'x', body: 'first' },
      { name: 'x', body: 'second' },
      { name: 'd/sub/f', body: 'in dir' },
      { name: 'd', body: 'now a file' },
      { name: 'e', body: 'file' },
      { name: 'e', type: 'directory' },
      { name: 'e/g', body: 'g' },
    ]);
    expect(readFileSync(join(root, 'x'), 'utf8')).toBe('second');
    expect(readFileSync(join(root, 'd'), 'utf8')).toBe('now a file');
    expect(readFileSync(join(root, 'e/g'), 'utf8')).toBe('g');
  });

  it.runIf(isRoot)('translates whiteouts and opaque directories to the overlay format', async () => {
    await extract([
      { name: 'etc/.wh.motd' },
      { name: 'var/lib/', type: 'directory' },
      { name: 'var/lib/.wh..wh..opq' },
      { name: 'var/lib/new', body: 'n' },
    ]);
    const wh = lstatSync(join(root, 'etc/motd'));
    expect(wh.isCharacterDevice()).toBe(true);
    expect(wh.rdev).toBe(0);
    expect(existsSync(join(root, 'etc/.wh.motd'))).toBe(false);
    expect(lgetxattr(join(root, 'var/lib'), 'trusted.overlay.opaque')?.toString()).toBe('y');
    expect(existsSync(join(root, 'var/lib/.wh..wh..opq'))).toBe(false);
    expect(readFileSync(join(root, 'var/lib/new'), 'utf8')).toBe('n');
  });

  it.runIf(isRoot)('keeps user xattrs from PAX records, never trusted.*', async () => {
    await extract([{ name: 'f', body: 'x', pax: { 'SCHILY.xattr.user.k': 'v', 'SCHILY.xattr.trusted.overlay.opaque': 'y' } }]);
    expect(lgetxattr(join(root, 'f'), 'user.k')?.toString()).toBe('v');
    expect(lgetxattr(join(root, 'f'), 'trusted.overlay.opaque')).toBeUndefined();
  });

  it('rejects truncated archives', async () => {
    const t = await makeTar([{ name: 'f', body: Buffer.alloc(10_000, 1) }]);
    await expect(extractTar(Readable.from(t.subarray(0, 3000)), opts())).rejects.toThrow();
  });
});

describe('a concurrent writer swaps a resolved parent for a symlink (issue #13 item 9)', () => {
  // lowerLookup is awaited in the middle of extraction (a hardlink to a lower-layer file), so it
  // can play the concurrent writer deterministically: it moves <root>/d away and puts a symlink
  // to a directory outside the root in its place, after the extractor resolved (and cached) d.
  const lowerFile = () => {
    const lower = join(top, `lower${n}`);
    mkdirSync(lower, { recursive: true });
    writeFileSync(join(lower, 'lowerfile'), 'lower');
    return lower;
  };
  const swapping = (lower: string) => async (rel: string) => {
    renameSync(join(root, 'd'), join(root, 'd.moved'));
    symlinkSync(join(sentinel, 'inner'), join(root, 'd'));
    return join(lower, rel);
  };

  it('between two entries: the later entry lands in the directory that was resolved', async () => {
    const lower = lowerFile();
    await extract(
      [
        { name: 'd/', type: 'directory' },
        { name: 'd/f1', body: 'one' },
        { name: 'x', type: 'link', linkname: '/lowerfile' },
        { name: 'd/f2', body: 'evil' },
        { name: 'd/sub/f3', body: 'evil' },
      ],
      { lowerLookup: swapping(lower) },
    );
    expect(existsSync(join(sentinel, 'inner', 'f2'))).toBe(false);
    expect(readFileSync(join(root, 'd.moved', 'f2'), 'utf8')).toBe('evil');
    // d/sub was never resolved before the swap: the symlink is followed, inside the root.
    expect(readFileSync(join(root, sentinel, 'inner', 'sub', 'f3'), 'utf8')).toBe('evil');
    expect(readlinkSync(join(root, 'd'))).toBe(join(sentinel, 'inner'));
    rmSync(lower, { recursive: true });
  });

  it('between resolving an entry\'s parent and making the entry', async () => {
    const lower = lowerFile();
    await extract(
      [
        { name: 'd/', type: 'directory' },
        { name: 'd/h', type: 'link', linkname: '/lowerfile' },
      ],
      { lowerLookup: swapping(lower) },
    );
    expect(existsSync(join(sentinel, 'inner', 'h'))).toBe(false);
    expect(statSync(join(root, 'd.moved', 'h')).ino).toBe(statSync(join(root, 'lowerfile')).ino);
    rmSync(lower, { recursive: true });
  });
});

describe('layer stream: decompression and verification', () => {

  it('unpacks gzip and zstd layers and checks digest and diffID', async () => {
    const t = await makeTar([{ name: 'hello', body: 'world' }]);
    const gz = gzipSync(t);
    await unpackLayerStream(Readable.from([gz]), { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(gz), size: gz.length }, sha(t), opts());
    expect(readFileSync(join(root, 'hello'), 'utf8')).toBe('world');
    const zst = execFileSync('zstd', ['-c', '-q'], { input: t });
    rmSync(join(root, 'hello'));
    await unpackLayerStream(Readable.from([zst]), { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: sha(zst), size: zst.length }, sha(t), opts());
    expect(readFileSync(join(root, 'hello'), 'utf8')).toBe('world');
  });

  it('fails on a wrong digest, a wrong size and a wrong diffID', async () => {
    const t = await makeTar([{ name: 'hello', body: 'world' }]);
    const gz = gzipSync(t);
    const mt = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
    const bad = 'sha256:' + '0'.repeat(64);
    await expect(unpackLayerStream(Readable.from([gz]), { mediaType: mt, digest: bad, size: gz.length }, sha(t), opts())).rejects.toThrow(/digest/);
    await expect(unpackLayerStream(Readable.from([gz]), { mediaType: mt, digest: sha(gz), size: gz.length - 1 }, sha(t), opts())).rejects.toThrow(/expected/);
    await expect(unpackLayerStream(Readable.from([gz]), { mediaType: mt, digest: sha(gz), size: gz.length }, bad, opts())).rejects.toThrow(/diffID/);
  });

  it('a corrupt gzip stream is refused content (UnpackError), whichever check trips first', async () => {
    const t = await makeTar([{ name: 'hello', body: 'world'.repeat(10_000) }]);
    const gz = Buffer.from(gzipSync(t));
    gz[gz.length - 20]! ^= 0xff; // deflate data near the end: zlib's trailer check fails
    // Declared with the corrupt bytes' own digest, so only zlib can object.
    const err = await unpackLayerStream(Readable.from([gz]), { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(gz), size: gz.length }, sha(t), opts()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnpackError);
    expect((err as Error).message).toMatch(/corrupt gzip stream/);
  });
});
