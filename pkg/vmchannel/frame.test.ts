import { describe, expect, it, vi } from 'vitest';
import { FrameDecoder, FrameKind, encodeFrame, encodeData, decodeData, FrameError, HEADER_BYTES, MAX_GUEST_PAYLOAD } from './frame.js';
import { RequestCodec, ResponseCodec } from './codec.js';

describe('vmchannel framing', () => {
  it('round-trips frames split at every byte boundary', () => {
    const a = encodeFrame(7, FrameKind.Request, RequestCodec.encode({ ping: {} }));
    const b = encodeFrame(8, FrameKind.Data, encodeData(1, Buffer.from('hello')));
    const all = Buffer.concat([a, b]);
    for (let cut = 0; cut <= all.length; cut++) {
      const d = new FrameDecoder();
      const frames = [...d.push(all.subarray(0, cut)), ...d.push(all.subarray(cut))];
      expect(frames.map((f) => [f.stream, f.kind])).toEqual([
        [7, FrameKind.Request],
        [8, FrameKind.Data],
      ]);
      expect(RequestCodec.decode(frames[0]!.payload).req).toBe('ping');
      expect(decodeData(frames[1]!.payload)).toEqual({ fd: 1, bytes: Buffer.from('hello') });
    }
  });

  it('rejects garbage headers', () => {
    const d = new FrameDecoder();
    expect(() => d.push(Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 1]))).toThrow(FrameError);
    expect(() => d.push(Buffer.from([0, 0, 0, 0, 0, 0, 0, 1, 99]))).toThrow(FrameError);
  });

  it('is linear: a big frame fed in small chunks is copied once, never re-concatenated per chunk', () => {
    const payload = Buffer.alloc(4 << 20, 7);
    const wire = encodeFrame(5, FrameKind.Data, payload);
    const concat = vi.spyOn(Buffer, 'concat');
    const copied = vi.spyOn(Buffer.prototype, 'copy');
    try {
      const d = new FrameDecoder();
      const frames = [];
      for (let off = 0; off < wire.length; off += 4096) frames.push(...d.push(wire.subarray(off, off + 4096)));
      expect(frames).toHaveLength(1);
      expect(frames[0]!.payload.equals(payload)).toBe(true);
      expect(concat).not.toHaveBeenCalled();
      // header + payload, each byte copied once
      const bytesCopied = copied.mock.calls.reduce((n, c) => n + ((c[3] as number) - (c[2] as number)), 0);
      expect(bytesCopied).toBe(wire.length);
    } finally {
      concat.mockRestore();
      copied.mockRestore();
    }
  });

  it('holds at most one frame, and refuses a declared length above its limit before buffering it', () => {
    const d = new FrameDecoder(MAX_GUEST_PAYLOAD);
    const header = Buffer.alloc(HEADER_BYTES);
    header.writeUInt32BE(MAX_GUEST_PAYLOAD + 1, 0);
    header.writeUInt8(FrameKind.Data, 8);
    expect(() => d.push(header)).toThrow(/length 1048577/);
    expect(d.buffered).toBe(0);
    const ok = encodeFrame(1, FrameKind.Data, Buffer.alloc(MAX_GUEST_PAYLOAD));
    expect(d.push(ok.subarray(0, 100))).toEqual([]);
    expect(d.buffered).toBe(100);
    expect(d.push(ok.subarray(100))).toHaveLength(1);
    expect(d.buffered).toBe(0);
  });

  it('decodes empty-payload frames wherever a chunk ends', () => {
    const all = Buffer.concat([encodeFrame(1, FrameKind.Close), encodeFrame(2, FrameKind.Close), encodeFrame(3, FrameKind.Window, Buffer.alloc(4))]);
    for (let cut = 0; cut <= all.length; cut++) {
      const d = new FrameDecoder();
      const frames = [...d.push(all.subarray(0, cut)), ...d.push(all.subarray(cut))];
      expect(frames.map((f) => f.stream)).toEqual([1, 2, 3]);
    }
  });

  it('hands over the frames that came before a bad header', () => {
    const d = new FrameDecoder();
    const good = encodeFrame(4, FrameKind.Close);
    try {
      d.push(Buffer.concat([good, good, Buffer.from([0, 0, 0, 0, 0, 0, 0, 1, 99])]));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FrameError);
      expect((e as FrameError).framesBefore.map((f) => f.stream)).toEqual([4, 4]);
    }
  });

  it('encodes responses with int64 as strings and oneof names', () => {
    const bytes = ResponseCodec.encode({ ping: { kernel_release: '6.1', mem_total_bytes: '134217728' } });
    const r = ResponseCodec.decode(bytes);
    expect(r.resp).toBe('ping');
    expect(r.ping?.mem_total_bytes).toBe('134217728');
    expect(r.error).toBe('');
  });
});
