// Hardening of the SPDY reader against hostile peers: bounded header inflation, bounded and
// linear header parsing, bounded control frames, and no frame queue behind an inflate.
import { describe, expect, it } from 'vitest';
import { Duplex, PassThrough } from 'node:stream';
import zlib from 'node:zlib';
import pino from 'pino';
import { SpdySession, type SpdyStream } from './spdy.js';
import { FrameParser, SpdyProtocolError, decodeHeaderBlock, encodeHeaderBlock, encodePing, encodeSynStream, type Frame } from './spdy-frames.js';
import { SPDY3_HEADER_DICTIONARY } from './spdy-dictionary.js';
import { MAX_CONCURRENT_STREAMS, MAX_CONTROL_FRAME_PAYLOAD, MAX_HEADER_BLOCK_BYTES, MAX_HEADER_PAIRS } from './spdy-limits.js';
import { HeaderCompressor } from './spdy-zlib.js';

function harness() {
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  const serverSide = Duplex.from({ readable: toServer, writable: toClient });
  const session = new SpdySession(serverSide, pino({ level: 'silent' }));
  const parser = new FrameParser();
  const frames: Frame[] = [];
  toClient.on('data', (b: Buffer) => frames.push(...parser.push(b)));
  const streams: SpdyStream[] = [];
  session.on('stream', (s) => streams.push(s));
  let closed = false;
  session.once('close', () => (closed = true));
  return { session, serverSide, toServer, frames, streams, isClosed: () => closed };
}

const tick = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Waits until pred holds (5 s at most): a fixed tick failed under a loaded CI machine. */
const until = async (pred: () => boolean): Promise<void> => {
  for (let i = 0; i < 500 && !pred(); i++) await tick(10);
};

/** Raw header block: count, then (name, value) pairs, written without any check. */
function rawHeaderBlock(pairs: [string, string][]): Buffer {
  const parts: Buffer[] = [Buffer.alloc(4)];
  parts[0]!.writeUInt32BE(pairs.length, 0);
  for (const [n, v] of pairs) {
    const nb = Buffer.from(n);
    const vb = Buffer.from(v);
    const nl = Buffer.alloc(4);
    nl.writeUInt32BE(nb.length, 0);
    const vl = Buffer.alloc(4);
    vl.writeUInt32BE(vb.length, 0);
    parts.push(nl, nb, vl, vb);
  }
  return Buffer.concat(parts);
}

/** Deflates (dictionary-primed, sync-flushed) a header block of one value of `zeros` zero bytes. */
function zipBomb(zeros: number): Buffer {
  const prefix = Buffer.alloc(4 + 4 + 1 + 4);
  prefix.writeUInt32BE(1, 0);
  prefix.writeUInt32BE(1, 4);
  prefix.write('x', 8);
  prefix.writeUInt32BE(zeros, 9);
  return zlib.deflateSync(Buffer.concat([prefix, Buffer.alloc(zeros)]), { dictionary: SPDY3_HEADER_DICTIONARY, level: 9, finishFlush: zlib.constants.Z_SYNC_FLUSH });
}

describe('SPDY limits', () => {
  it('a SYN_STREAM whose header block inflates past the cap closes the session with GOAWAY(PROTOCOL_ERROR), inflating no further', async () => {
    const bomb = zipBomb(64 * 1024 * 1024); // 64 MiB of zeros in ~64 KiB
    expect(bomb.length).toBeLessThan(MAX_CONTROL_FRAME_PAYLOAD);
    const h = harness();
    const before = process.memoryUsage().arrayBuffers;
    h.toServer.write(encodeSynStream(1, bomb));
    for (let i = 0; i < 50 && !h.isClosed(); i++) await tick(10);
    expect(h.isClosed()).toBe(true);
    expect(h.streams).toHaveLength(0);
    await until(() => h.frames.some((f) => f.type === 'goaway'));
    expect(h.frames).toContainEqual({ type: 'goaway', lastGoodStreamId: 0, status: 1 });
    // Inflating it all would have allocated 64 MiB (twice, joining the chunks).
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
  });

  it('a header block just under the cap is accepted', async () => {
    const h = harness();
    const value = 'v'.repeat(MAX_HEADER_BLOCK_BYTES - 64);
    const block = zlib.deflateSync(encodeHeaderBlock({ big: [value] }), { dictionary: SPDY3_HEADER_DICTIONARY, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    h.toServer.write(encodeSynStream(1, block));
    await until(() => h.streams.length > 0 || h.isClosed());
    expect(h.isClosed()).toBe(false);
    expect(h.streams[0]?.header('big')).toBe(value);
    h.session.close();
  });

  it('a control frame longer than the cap is refused from its 8-byte header, before its body is buffered', async () => {
    const h = harness();
    const head = encodeSynStream(1, Buffer.alloc(0)).subarray(0, 8);
    head.writeUInt32BE(0xffffff, 4); // 16 MiB payload announced, none sent
    h.toServer.write(head);
    await until(() => h.isClosed() && h.frames.some((f) => f.type === 'goaway'));
    expect(h.isClosed()).toBe(true);
    expect(h.frames).toContainEqual({ type: 'goaway', lastGoodStreamId: 0, status: 1 });
  });

  it('many repeated header names are refused, in linear time', () => {
    const repeats = 20_000;
    const raw = rawHeaderBlock(Array.from({ length: repeats }, () => ['a', 'b\0c'] as [string, string]));
    const t0 = performance.now();
    expect(() => decodeHeaderBlock(raw)).toThrow(SpdyProtocolError);
    // Quadratic merging took seconds for 20000 repeats; linear is ~10 ms (1 s leaves room for load).
    expect(performance.now() - t0).toBeLessThan(1000);
    // Within the pair limit, repeats still merge into one list.
    const ok = decodeHeaderBlock(rawHeaderBlock(Array.from({ length: MAX_HEADER_PAIRS }, (_, i) => ['port', String(i)] as [string, string])));
    expect(ok.port).toHaveLength(MAX_HEADER_PAIRS);
  });

  it('a value of many NULs is refused (one string per NUL otherwise)', () => {
    expect(() => decodeHeaderBlock(rawHeaderBlock([['a', '\0'.repeat(100_000)]]))).toThrow(SpdyProtocolError);
  });

  it('header names are not object keys with meaning: __proto__ and constructor are plain headers', () => {
    const h = decodeHeaderBlock(rawHeaderBlock([['__proto__', 'x'], ['constructor', 'y']]));
    expect(Object.keys(h).sort()).toEqual(['__proto__', 'constructor']);
    expect(h['constructor']).toEqual(['y']);
  });

  it('pauses the transport while a header block inflates, so later frames wait unparsed instead of queueing', async () => {
    const h = harness();
    const block = zlib.deflateSync(encodeHeaderBlock({ streamtype: ['data'] }), { dictionary: SPDY3_HEADER_DICTIONARY, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    const pings = Array.from({ length: 1000 }, (_, i) => encodePing(2 * i + 1));
    h.toServer.write(Buffer.concat([encodeSynStream(1, block), ...pings]));
    await new Promise((r) => setImmediate(r));
    expect(h.serverSide.isPaused()).toBe(true);
    // The inflate runs on libuv's thread pool: on a loaded machine (CI, load 20) it can take more
    // than one turn of the loop to come back, so wait for the resume instead of one tick.
    for (let i = 0; i < 500 && h.serverSide.isPaused(); i++) await tick(10);
    expect(h.serverSide.isPaused()).toBe(false);
    for (let i = 0; i < 500 && h.frames.filter((f) => f.type === 'ping').length < 1000; i++) await tick(10);
    expect(h.streams).toHaveLength(1);
    expect(h.frames.filter((f) => f.type === 'ping')).toHaveLength(1000);
    h.session.close();
  });

  it('refuses streams past the concurrent-stream cap with RST_STREAM(REFUSED_STREAM), keeping the session', async () => {
    const h = harness();
    const c = new HeaderCompressor();
    const syns = Array.from({ length: MAX_CONCURRENT_STREAMS + 1 }, (_, i) => encodeSynStream(2 * i + 1, c.compress(encodeHeaderBlock({ streamtype: ['data'] }))));
    h.toServer.write(Buffer.concat(syns));
    for (let i = 0; i < 200 && h.streams.length + h.frames.filter((f) => f.type === 'rst_stream').length <= MAX_CONCURRENT_STREAMS; i++) await tick(10);
    expect(h.streams).toHaveLength(MAX_CONCURRENT_STREAMS);
    expect(h.frames).toContainEqual({ type: 'rst_stream', streamId: 2 * MAX_CONCURRENT_STREAMS + 1, status: 3 });
    expect(h.isClosed()).toBe(false);
    h.session.close();
  });
});
