// unpackLayerInWorker: the worker-thread path the puller and archive import use. The containment
// rules themselves are unpack.test.ts's (same extractor); here: the bytes arrive intact through
// the message channel and its back-pressure, checks and error classes survive the thread boundary,
// a failing blob stream stops the worker, and hardlink lookups cross back to the calling thread.
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { unpackLayerInWorker } from './layer-unpack-worker.js';
import { acquireLayerWorker, releaseLayerWorker } from './layer-worker-pool.js';
import { UnpackError, type UnpackOptions } from './unpack-types.js';
import { DigestMismatchError } from './verify-stream.js';
import { makeTar, type TarEntry as Entry } from '../../test/fakes/tar.js';


const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const GZ = 'application/vnd.oci.image.layer.v1.tar+gzip';
const top = mkdtempSync(join(tmpdir(), 'bulkhead-unpack-worker-'));
afterAll(() => rmSync(top, { recursive: true, force: true }));

let n = 0;
let root: string;
beforeEach(() => {
  root = join(top, `snap${++n}`, 'fs');
  mkdirSync(root, { recursive: true });
});
const opts = (o: Partial<UnpackOptions> = {}): UnpackOptions => ({ root, allowDevices: false, ...o });

/** The blob in small chunks, as a network read delivers it: exercises the ack-based back-pressure. */
function chunked(b: Buffer, size = 16 * 1024): Readable {
  const parts: Buffer[] = [];
  for (let off = 0; off < b.length; off += size) parts.push(b.subarray(off, off + size));
  return Readable.from(parts);
}

describe('unpackLayerInWorker', () => {
  it('unpacks a multi-MiB gzip layer byte for byte from many small chunks', async () => {
    const big = randomBytes(12 * 2 ** 20);
    const t = await makeTar([
      { name: 'dir', type: 'directory', mode: 0o750 },
      { name: 'dir/big', body: big, mode: 0o600 },
      { name: 'link', type: 'symlink', linkname: '/etc/passwd' },
      ...Array.from({ length: 300 }, (_, i) => ({ name: `many/${i}`, body: `file ${i}` })),
    ]);
    const gz = gzipSync(t);
    const stats = await unpackLayerInWorker(chunked(gz), { mediaType: GZ, digest: sha(gz), size: gz.length }, sha(t), opts());
    expect(readFileSync(join(root, 'dir/big')).equals(big)).toBe(true);
    expect(lstatSync(join(root, 'dir/big')).mode & 0o777).toBe(0o600);
    expect(readlinkSync(join(root, 'link'))).toBe('/etc/passwd');
    expect(readdirSync(join(root, 'many'))).toHaveLength(300);
    expect(stats.entries).toBe(303);
    expect(stats.bytes).toBeGreaterThanOrEqual(big.length);
  }, 30_000);

  it('unpacks a zstd layer (its decompression worker nested in the layer worker)', async () => {
    const t = await makeTar([{ name: 'hello', body: 'world' }]);
    const zst = execFileSync('zstd', ['-c', '-q'], { input: t });
    await unpackLayerInWorker(Readable.from([zst]), { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: sha(zst), size: zst.length }, sha(t), opts());
    expect(readFileSync(join(root, 'hello'), 'utf8')).toBe('world');
  });

  it('keeps the error classes the puller maps: digest, size, diffID mismatches and refused content', async () => {
    const t = await makeTar([{ name: 'hello', body: 'world' }]);
    const gz = gzipSync(t);
    const bad = 'sha256:' + '0'.repeat(64);
    const run = (digest: string, size: number, diffId: string, o: Partial<UnpackOptions> = {}) =>
      unpackLayerInWorker(Readable.from([gz]), { mediaType: GZ, digest, size }, diffId, opts(o)).catch((e: unknown) => e);
    const wrongDigest = await run(bad, gz.length, sha(t));
    expect(wrongDigest).toBeInstanceOf(DigestMismatchError);
    expect(String(wrongDigest)).toMatch(/digest/);
    expect(await run(sha(gz), gz.length - 1, sha(t))).toBeInstanceOf(DigestMismatchError);
    const wrongDiffId = await run(sha(gz), gz.length, bad);
    expect(wrongDiffId).toBeInstanceOf(DigestMismatchError);
    expect(String(wrongDiffId)).toMatch(/diffID/);
    const tooMany = await run(sha(gz), gz.length, sha(t), { limits: { maxBytes: 1 << 20, maxEntries: 0 } });
    expect(tooMany).toBeInstanceOf(UnpackError);
    expect(String(tooMany)).toMatch(/limit of 0 entries/);
    const unsupported = await unpackLayerInWorker(Readable.from([gz]), { mediaType: 'application/x-rar', digest: sha(gz), size: gz.length }, sha(t), opts()).catch((e: unknown) => e);
    expect(unsupported).toBeInstanceOf(UnpackError);
  });

  it('reports a failing blob stream with its own error (code kept) once the worker stopped', async () => {
    const t = await makeTar([{ name: 'a', body: randomBytes(4 * 2 ** 20) }]);
    const gz = gzipSync(t);
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    async function* failing() {
      yield gz.subarray(0, gz.length >> 1);
      throw reset;
    }
    const err = await unpackLayerInWorker(Readable.from(failing()), { mediaType: GZ, digest: sha(gz), size: gz.length }, sha(t), opts()).catch((e: unknown) => e);
    expect(err).toBe(reset);
    // The worker is gone: nothing writes into the directory the caller now removes.
    rmSync(root, { recursive: true, force: true });
    await new Promise((r) => setTimeout(r, 100));
    expect(() => lstatSync(root)).toThrow(/ENOENT/);
  });

  it('stops reading the blob when the worker refuses the layer early', async () => {
    const t = await makeTar(Array.from({ length: 50 }, (_, i) => ({ name: `f${i}`, body: randomBytes(256 * 1024) })));
    let reads = 0;
    async function* slow() {
      for (let off = 0; off < t.length; off += 64 * 1024) {
        reads++;
        yield t.subarray(off, off + 64 * 1024);
      }
    }
    const body = Readable.from(slow());
    const err = await unpackLayerInWorker(body, { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(t), size: t.length }, sha(t), opts({ limits: { maxBytes: 1 << 30, maxEntries: 2 } })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnpackError);
    expect(body.destroyed).toBe(true);
    expect(reads).toBeLessThan(Math.ceil(t.length / (64 * 1024)));
  });

  it('looks hardlink targets up in lower layers through the calling thread', async () => {
    const lower = join(top, `lower${n}`);
    mkdirSync(join(lower, 'bin'), { recursive: true });
    writeFileSync(join(lower, 'bin', 'tool'), 'from below');
    const asked: string[] = [];
    const t = await makeTar([{ name: 'usr/tool', type: 'link', linkname: 'bin/tool' }]);
    await unpackLayerInWorker(Readable.from([t]), { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(t), size: t.length }, sha(t), opts({
      lowerLookup: async (rel) => {
        asked.push(rel);
        return join(lower, rel);
      },
    }));
    expect(asked).toEqual(['bin/tool']);
    expect(readFileSync(join(root, 'usr/tool'), 'utf8')).toBe('from below');
    expect(readFileSync(join(root, 'bin/tool'), 'utf8')).toBe('from below');
    const failing = await unpackLayerInWorker(Readable.from([t]), { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(t), size: t.length }, sha(t), opts({
      root: join(top, `other${n}`),
      lowerLookup: async () => undefined,
    })).catch((e: unknown) => e);
    expect(failing).toBeInstanceOf(Error);
  });
});

describe('layer worker pool', () => {
  it('reuses a worker after a good layer, never after a failed one', async () => {
    const t = await makeTar([{ name: 'x', body: 'y' }]);
    const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(t), size: t.length };
    const idleWorker = async () => {
      const w = await acquireLayerWorker();
      const id = w.threadId;
      releaseLayerWorker(w);
      return id;
    };
    await unpackLayerInWorker(Readable.from([t]), layer, sha(t), opts());
    const good = await idleWorker();
    root = join(top, `snap${++n}`, 'fs');
    mkdirSync(root, { recursive: true });
    await unpackLayerInWorker(Readable.from([t]), layer, sha(t), opts());
    expect(await idleWorker()).toBe(good);
    // The failing layer takes the idle worker; it must be terminated, not handed back.
    const failed = await unpackLayerInWorker(Readable.from([t]), layer, 'sha256:' + '0'.repeat(64), opts({ root: join(top, `bad${n}`) })).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(Error);
    expect(await idleWorker()).not.toBe(good);
  });
});
