import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decompressor } from './decompress.js';
import { unpackLayerStream } from './layer-unpack.js';
import { UnpackError } from './unpack.js';

const hasZstdCli = (() => {
  try {
    execFileSync('zstd', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

/** A frame header with a Window_Descriptor (not single-segment, no checksum, no dictionary). */
function frameHeader(windowLog: number, mantissa = 0): Buffer {
  return Buffer.concat([MAGIC, Buffer.from([0x00, ((windowLog - 10) << 3) | mantissa])]);
}

/** A single-segment frame header whose window is its 4-byte Frame_Content_Size. */
function singleSegmentHeader(contentSize: number): Buffer {
  const fcs = Buffer.alloc(4);
  fcs.writeUInt32LE(contentSize);
  return Buffer.concat([MAGIC, Buffer.from([0xa0]), fcs]);
}

function blockHeader(type: number, size: number, last: boolean): Buffer {
  const v = (size << 3) | (type << 1) | (last ? 1 : 0);
  return Buffer.from([v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff]);
}

const rleBlock = (byte: number, size: number, last: boolean) => Buffer.concat([blockHeader(1, size, last), Buffer.from([byte])]);
const rawBlock = (data: Buffer, last: boolean) => Buffer.concat([blockHeader(0, data.length, last), data]);

function skippableFrame(payload: Buffer): Buffer {
  const h = Buffer.from([0x5a, 0x2a, 0x4d, 0x18, 0, 0, 0, 0]);
  h.writeUInt32LE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

/** Feeds `input` in `chunk`-byte pieces through the zstd decompressor; returns the output. */
async function decompress(input: Buffer, chunk = 64 * 1024): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < input.length; i += chunk) parts.push(input.subarray(i, i + chunk));
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(parts),
    decompressor('zstd'),
    new Writable({
      write(c: Buffer, _e, cb) {
        out.push(c);
        cb();
      },
    }),
  );
  return Buffer.concat(out);
}

/** Deterministic, compressible bytes (text-like, so zstd makes real compressed blocks). */
function sampleData(bytes: number): Buffer {
  const words = ['layer', 'snapshot', 'overlay', 'runtime', 'bulkhead', 'zstd', 'frame', 'window', 'block', '\n'];
  let seed = 12345;
  const parts: string[] = [];
  let n = 0;
  while (n < bytes) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const w = `${words[seed % words.length]!}${seed % 7 === 0 ? seed.toString(36) : ''} `;
    parts.push(w);
    n += w.length;
  }
  return Buffer.from(parts.join('')).subarray(0, bytes);
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('zstd layer decompression', () => {
  it('refuses frames declaring windows above 128 MiB, quickly and before decoding', async () => {
    const data = rawBlock(Buffer.from('hello'), true);
    const cases: Array<[string, Buffer, RegExp]> = [
      ['2 GiB window', Buffer.concat([frameHeader(31), data]), /declares a 2048 MiB window; the limit is 128 MiB/],
      // fzstd's own ceiling is 2046 MB: this one it would allocate and then crawl through.
      ['1.875 GiB window', Buffer.concat([frameHeader(30, 7), data]), /declares a 1920 MiB window/],
      ['single-segment frame of 1 GiB content', Buffer.concat([singleSegmentHeader(2 ** 30), data]), /declares a 1024 MiB window/],
      // every frame is checked: a small first frame and a skippable frame do not hide the second
      ['second frame', Buffer.concat([frameHeader(20), data, skippableFrame(Buffer.alloc(100)), frameHeader(31), data]), /zstd frame 2 declares a 2048 MiB window/],
      ['128 MiB + 1/8', Buffer.concat([frameHeader(27, 1), data]), /declares a 144 MiB window/],
    ];
    for (const [what, input, re] of cases) {
      const t0 = performance.now();
      await expect(decompress(input, 3), what).rejects.toThrow(re);
      // Refusing takes milliseconds; decoding would allocate the window and take minutes. 10 s keeps
      // the difference visible on a machine at load 20 (2 s failed there once).
      expect(performance.now() - t0, what).toBeLessThan(10_000);
    }
  });

  it('fails a layer pull with UnpackError (FAILED_PRECONDITION), not a crash', async () => {
    const bomb = Buffer.concat([frameHeader(30, 7), rleBlock(0x61, 128 * 1024, true)]);
    const root = mkdtempSync(join(tmpdir(), 'bulkhead-zstd-'));
    try {
      const digest = `sha256:${sha(bomb)}`;
      const err = await unpackLayerStream(Readable.from([bomb]), { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest, size: bomb.length }, digest, { root, allowDevices: false }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnpackError);
      expect((err as Error).message).toMatch(/1920 MiB window; the limit is 128 MiB/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('accepts a frame whose window is exactly 128 MiB', async () => {
    const out = await decompress(Buffer.concat([frameHeader(27), rleBlock(0x41, 1000, false), rawBlock(Buffer.from('end'), true)]));
    expect(out.toString()).toBe(`${'A'.repeat(1000)}end`);
  });

  it('fails a truncated or corrupt stream with an error instead of hanging', async () => {
    await expect(decompress(Buffer.concat([frameHeader(20), blockHeader(0, 100, true), Buffer.alloc(10)]))).rejects.toThrow(/ends inside a frame/);
    await expect(decompress(Buffer.from('this is not zstd at all'))).rejects.toThrow(/bad frame magic/);
  });

  it.skipIf(!hasZstdCli)('decompresses real zstd output byte-exact: several frames, a skippable frame, odd chunk sizes', async () => {
    const a = sampleData(6 * 2 ** 20);
    const b = sampleData(1 * 2 ** 20 + 333).reverse();
    const za = execFileSync('zstd', ['-3', '-c', '--check'], { input: a, maxBuffer: 64 << 20 });
    const zb = execFileSync('zstd', ['-19', '-c', '--no-check'], { input: b, maxBuffer: 64 << 20 });
    const input = Buffer.concat([za, skippableFrame(Buffer.from('skip me')), zb]);
    for (const chunk of [7777, 256 * 1024]) {
      const out = await decompress(input, chunk);
      expect(out.length).toBe(a.length + b.length);
      expect(sha(out)).toBe(sha(Buffer.concat([a, b])));
    }
  });

  it('keeps the event loop turning while a large-window frame decodes (off the main thread)', async () => {
    // 160 RLE blocks of 128 KiB under a 64 MiB window: 640 input bytes, 20 MiB out. fzstd slides
    // its whole window per block, ~64 MiB of memmove each: seconds of CPU for one input chunk.
    const blocks: Buffer[] = [frameHeader(26)];
    for (let i = 0; i < 160; i++) blocks.push(rleBlock(0x61, 128 * 1024, i === 159));
    // The longest gap between 10 ms timer ticks is the longest event-loop stall.
    let last = performance.now();
    let maxGap = 0;
    const tick = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 10);
    const t0 = performance.now();
    const out = await decompress(Buffer.concat(blocks));
    const decodeMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 30)); // a stall just before the end is seen by the next tick
    clearInterval(tick);
    expect(out.length).toBe(160 * 128 * 1024);
    expect(out.every((x) => x === 0x61)).toBe(true);
    // On the main thread the decode would be one stall as long as itself; a loaded machine adds
    // scheduling gaps of its own, so the bound scales with the decode (a fixed 250 ms flaked at load 20).
    expect(maxGap, `longest event-loop stall, ms (decode took ${Math.round(decodeMs)} ms)`).toBeLessThan(Math.max(250, decodeMs / 2));
  });
});
