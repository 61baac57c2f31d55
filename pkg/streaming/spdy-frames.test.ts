import { describe, expect, it } from 'vitest';
import zlib from 'node:zlib';
import {
  FrameParser,
  decodeHeaderBlock,
  encodeData,
  encodeGoAway,
  encodeHeaderBlock,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSynReply,
  encodeSynStream,
  encodeWindowUpdate,
  SpdyProtocolError,
} from './spdy-frames.js';
import { HeaderCompressor, HeaderDecompressor } from './spdy-zlib.js';
import type { SpdyHeaders } from './spdy-frames.js';
import { SPDY3_HEADER_DICTIONARY } from './spdy-dictionary.js';

describe('SPDY frames', () => {
  it('round-trips every frame type through the incremental parser, split at every byte', () => {
    const hb = Buffer.from('hdr');
    const wire = Buffer.concat([
      encodeSynStream(1, hb, { fin: true, priority: 3 }),
      encodeSynReply(1, hb),
      encodeData(1, Buffer.from('hello'), false),
      encodeData(1, Buffer.alloc(0), true),
      encodeRstStream(3, 5),
      encodeSettings([{ id: 7, value: 65536 }]),
      encodePing(9),
      encodeGoAway(7, 0),
      encodeWindowUpdate(1, 1000),
    ]);
    for (const step of [1, 3, 7, wire.length]) {
      const p = new FrameParser();
      const frames = [];
      for (let i = 0; i < wire.length; i += step) frames.push(...p.push(wire.subarray(i, i + step)));
      expect(frames).toEqual([
        { type: 'syn_stream', streamId: 1, assocStreamId: 0, priority: 3, flags: 1, headerBlock: hb },
        { type: 'syn_reply', streamId: 1, flags: 0, headerBlock: hb },
        { type: 'data', streamId: 1, flags: 0, data: Buffer.from('hello') },
        { type: 'data', streamId: 1, flags: 1, data: Buffer.alloc(0) },
        { type: 'rst_stream', streamId: 3, status: 5 },
        { type: 'settings', flags: 0, entries: [{ flags: 0, id: 7, value: 65536 }] },
        { type: 'ping', id: 9 },
        { type: 'goaway', lastGoodStreamId: 7, status: 0 },
        { type: 'window_update', streamId: 1, delta: 1000 },
      ]);
      expect(p.buffered).toBe(0);
    }
  });

  it('lays out a control frame header as SPDY/3 says', () => {
    const f = encodeRstStream(5, 3);
    expect([...f.subarray(0, 8)]).toEqual([0x80, 0x03, 0x00, 0x03, 0x00, 0x00, 0x00, 0x08]);
    const d = encodeData(0x12345, Buffer.from('ab'), true);
    expect([...d.subarray(0, 8)]).toEqual([0x00, 0x01, 0x23, 0x45, 0x01, 0x00, 0x00, 0x02]);
  });

  it('rejects other SPDY versions', () => {
    const f = encodePing(1);
    f.writeUInt16BE(0x8002, 0);
    expect(() => new FrameParser().push(f)).toThrow(SpdyProtocolError);
  });

  it('encodes header blocks with lower-case names and NUL-joined values', () => {
    const raw = encodeHeaderBlock({ StreamType: ['error'], port: ['80', '81'] });
    expect(decodeHeaderBlock(raw)).toEqual({ streamtype: ['error'], port: ['80', '81'] });
    expect(raw.includes(Buffer.from('80\u000081'))).toBe(true);
    expect(() => decodeHeaderBlock(raw.subarray(0, raw.length - 1))).toThrow(SpdyProtocolError);
  });
});

describe('SPDY header compression', () => {
  it('our stored-block output inflates with the SPDY/3 dictionary, frame after frame (sync-flush boundaries)', async () => {
    const c = new HeaderCompressor();
    const inflate = zlib.createInflate({ dictionary: SPDY3_HEADER_DICTIONARY });
    const blocks: SpdyHeaders[] = [{ a: ['1'] }, {}, { streamtype: ['stdout'], 'x-long': ['y'.repeat(70000)] }];
    for (const h of blocks) {
      const out = await new Promise<Buffer>((resolve) => {
        const chunks: Buffer[] = [];
        const on = (d: Buffer): void => void chunks.push(d);
        inflate.on('data', on);
        inflate.write(c.compress(encodeHeaderBlock(h)));
        inflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
          inflate.off('data', on);
          resolve(Buffer.concat(chunks));
        });
      });
      expect(decodeHeaderBlock(out)).toEqual(h);
    }
    inflate.close();
  });

  it('inflates a peer deflate stream primed with the dictionary across frames (what Go spdystream sends)', async () => {
    const deflate = zlib.createDeflate({ dictionary: SPDY3_HEADER_DICTIONARY, level: 9 });
    const d = new HeaderDecompressor();
    const compress = (raw: Buffer): Promise<Buffer> =>
      new Promise((resolve) => {
        const chunks: Buffer[] = [];
        const on = (x: Buffer): void => void chunks.push(x);
        deflate.on('data', on);
        deflate.write(raw);
        deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
          deflate.off('data', on);
          resolve(Buffer.concat(chunks));
        });
      });
    for (const id of ['1', '2', '3']) {
      const h = { streamtype: ['data'], port: ['8080'], requestid: [id] };
      expect(decodeHeaderBlock(await d.decompress(await compress(encodeHeaderBlock(h))))).toEqual(h);
    }
    // Garbage is a protocol error, not a crash.
    await expect(new HeaderDecompressor().decompress(Buffer.from('not zlib at all'))).rejects.toThrow(SpdyProtocolError);
    deflate.close();
    d.close();
  });
});
