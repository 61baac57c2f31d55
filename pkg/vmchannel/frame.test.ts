import { describe, expect, it } from 'vitest';
import { FrameDecoder, FrameKind, encodeFrame, encodeData, decodeData, FrameError } from './frame.js';
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

  it('encodes responses with int64 as strings and oneof names', () => {
    const bytes = ResponseCodec.encode({ ping: { kernel_release: '6.1', mem_total_bytes: '134217728' } });
    const r = ResponseCodec.decode(bytes);
    expect(r.resp).toBe('ping');
    expect(r.ping?.mem_total_bytes).toBe('134217728');
    expect(r.error).toBe('');
  });
});
