// SPDY/3(.1) frame codec: the wire layout of data and control frames, the (uncompressed)
// header-block layout, and an incremental parser. Pure and synchronous; header compression
// lives in spdy-zlib.ts and the session logic in spdy.ts.
//
// Control frame: |1|version(15)|type(16)|flags(8)|length(24)|payload
// Data frame:    |0|stream-id(31)|flags(8)|length(24)|payload
import { MAX_CONTROL_FRAME_PAYLOAD, MAX_HEADER_PAIRS, MAX_HEADER_VALUES } from './spdy-limits.js';

export const SPDY_VERSION = 3;
export const FLAG_FIN = 0x01;
/** Largest payload a frame length field can carry. */
export const MAX_FRAME_PAYLOAD = 0xffffff;

export const enum ControlType {
  SynStream = 1,
  SynReply = 2,
  RstStream = 3,
  Settings = 4,
  Ping = 6,
  GoAway = 7,
  Headers = 8,
  WindowUpdate = 9,
}

/** RST_STREAM status codes (SPDY/3 §2.4.2). */
export const RstStatus = {
  PROTOCOL_ERROR: 1,
  INVALID_STREAM: 2,
  REFUSED_STREAM: 3,
  UNSUPPORTED_VERSION: 4,
  CANCEL: 5,
  INTERNAL_ERROR: 6,
  FLOW_CONTROL_ERROR: 7,
  STREAM_IN_USE: 8,
  STREAM_ALREADY_CLOSED: 9,
} as const;

export type Frame =
  | { type: 'data'; streamId: number; flags: number; data: Buffer }
  | { type: 'syn_stream'; streamId: number; assocStreamId: number; priority: number; flags: number; headerBlock: Buffer }
  | { type: 'syn_reply'; streamId: number; flags: number; headerBlock: Buffer }
  | { type: 'headers'; streamId: number; flags: number; headerBlock: Buffer }
  | { type: 'rst_stream'; streamId: number; status: number }
  | { type: 'settings'; flags: number; entries: { flags: number; id: number; value: number }[] }
  | { type: 'ping'; id: number }
  | { type: 'goaway'; lastGoodStreamId: number; status: number }
  | { type: 'window_update'; streamId: number; delta: number }
  | { type: 'unknown'; controlType: number; flags: number; payload: Buffer };

export class SpdyProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpdyProtocolError';
  }
}

function controlHeader(type: ControlType, flags: number, length: number): Buffer {
  if (length > MAX_FRAME_PAYLOAD) throw new SpdyProtocolError(`control frame too large: ${length}`);
  const b = Buffer.allocUnsafe(8);
  b.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  b.writeUInt16BE(type, 2);
  b.writeUInt32BE((((flags & 0xff) << 24) >>> 0) + length, 4);
  return b;
}

export function encodeData(streamId: number, data: Buffer, fin: boolean): Buffer {
  if (data.length > MAX_FRAME_PAYLOAD) throw new SpdyProtocolError(`data frame too large: ${data.length}`);
  const b = Buffer.allocUnsafe(8 + data.length);
  b.writeUInt32BE(streamId & 0x7fffffff, 0);
  b.writeUInt32BE(((fin ? FLAG_FIN : 0) << 24) + data.length, 4);
  data.copy(b, 8);
  return b;
}

export function encodeSynStream(streamId: number, headerBlock: Buffer, opts: { fin?: boolean; priority?: number; assocStreamId?: number } = {}): Buffer {
  const p = Buffer.allocUnsafe(10);
  p.writeUInt32BE(streamId & 0x7fffffff, 0);
  p.writeUInt32BE((opts.assocStreamId ?? 0) & 0x7fffffff, 4);
  p[8] = ((opts.priority ?? 0) & 0x7) << 5;
  p[9] = 0; // slot
  return Buffer.concat([controlHeader(ControlType.SynStream, opts.fin ? FLAG_FIN : 0, 10 + headerBlock.length), p, headerBlock]);
}

export function encodeSynReply(streamId: number, headerBlock: Buffer, fin = false): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt32BE(streamId & 0x7fffffff, 0);
  return Buffer.concat([controlHeader(ControlType.SynReply, fin ? FLAG_FIN : 0, 4 + headerBlock.length), p, headerBlock]);
}

export function encodeRstStream(streamId: number, status: number): Buffer {
  const p = Buffer.allocUnsafe(8);
  p.writeUInt32BE(streamId & 0x7fffffff, 0);
  p.writeUInt32BE(status, 4);
  return Buffer.concat([controlHeader(ControlType.RstStream, 0, 8), p]);
}

export function encodeSettings(entries: { flags?: number; id: number; value: number }[]): Buffer {
  const p = Buffer.allocUnsafe(4 + 8 * entries.length);
  p.writeUInt32BE(entries.length, 0);
  entries.forEach((e, i) => {
    p.writeUInt32BE((((e.flags ?? 0) & 0xff) << 24 >>> 0) + (e.id & 0xffffff), 4 + 8 * i);
    p.writeUInt32BE(e.value >>> 0, 8 + 8 * i);
  });
  return Buffer.concat([controlHeader(ControlType.Settings, 0, p.length), p]);
}

export function encodePing(id: number): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt32BE(id >>> 0, 0);
  return Buffer.concat([controlHeader(ControlType.Ping, 0, 4), p]);
}

export function encodeGoAway(lastGoodStreamId: number, status = 0): Buffer {
  const p = Buffer.allocUnsafe(8);
  p.writeUInt32BE(lastGoodStreamId & 0x7fffffff, 0);
  p.writeUInt32BE(status >>> 0, 4);
  return Buffer.concat([controlHeader(ControlType.GoAway, 0, 8), p]);
}

export function encodeWindowUpdate(streamId: number, delta: number): Buffer {
  const p = Buffer.allocUnsafe(8);
  p.writeUInt32BE(streamId & 0x7fffffff, 0);
  p.writeUInt32BE(delta & 0x7fffffff, 4);
  return Buffer.concat([controlHeader(ControlType.WindowUpdate, 0, 8), p]);
}

/** Header names are lower-case on the wire (spdystream rejects others); values of one name join with NUL. */
export type SpdyHeaders = Record<string, string[]>;

export function encodeHeaderBlock(headers: SpdyHeaders): Buffer {
  const parts: Buffer[] = [];
  const names = Object.keys(headers);
  const count = Buffer.allocUnsafe(4);
  count.writeUInt32BE(names.length, 0);
  parts.push(count);
  for (const name of names) {
    const n = Buffer.from(name.toLowerCase(), 'utf8');
    const v = Buffer.from((headers[name] ?? []).join('\0'), 'utf8');
    const nl = Buffer.allocUnsafe(4);
    nl.writeUInt32BE(n.length, 0);
    const vl = Buffer.allocUnsafe(4);
    vl.writeUInt32BE(v.length, 0);
    parts.push(nl, n, vl, v);
  }
  return Buffer.concat(parts);
}

/**
 * Parses an inflated header block. Bounded (see spdy-limits.ts): at most MAX_HEADER_PAIRS
 * pairs and MAX_HEADER_VALUES values in all, and a repeated name appends to its list in place,
 * so a block of many repeats costs linear time instead of re-copying the list per repeat.
 */
export function decodeHeaderBlock(raw: Buffer): SpdyHeaders {
  // No prototype: a header named "__proto__" or "constructor" is just a header.
  const out = Object.create(null) as SpdyHeaders;
  let off = 0;
  let values = 0;
  const need = (n: number): void => {
    if (off + n > raw.length) throw new SpdyProtocolError('truncated header block');
  };
  need(4);
  const count = raw.readUInt32BE(off);
  off += 4;
  if (count > MAX_HEADER_PAIRS) throw new SpdyProtocolError(`header block has ${count} pairs (limit ${MAX_HEADER_PAIRS})`);
  for (let i = 0; i < count; i++) {
    need(4);
    const nl = raw.readUInt32BE(off);
    off += 4;
    need(nl);
    const name = raw.toString('utf8', off, off + nl).toLowerCase();
    off += nl;
    need(4);
    const vl = raw.readUInt32BE(off);
    off += 4;
    need(vl);
    // The split limit stops a value of NULs from becoming 256K strings before the check.
    const parts = raw.toString('utf8', off, off + vl).split('\0', MAX_HEADER_VALUES - values + 1);
    off += vl;
    values += parts.length;
    if (values > MAX_HEADER_VALUES) throw new SpdyProtocolError(`header block has more than ${MAX_HEADER_VALUES} values`);
    const list = out[name];
    if (list) list.push(...parts);
    else out[name] = parts;
  }
  return out;
}

/**
 * Incremental parser: feed socket bytes, take whole frames one at a time. Chunks are kept as a
 * list and joined once per frame, so a 16 MiB frame arriving in 64 KiB reads costs one copy,
 * not 256 ever-longer ones. A control frame longer than MAX_CONTROL_FRAME_PAYLOAD is refused
 * as soon as its 8-byte header is in, before its body is buffered.
 */
export class FrameParser {
  private chunks: Buffer[] = [];
  private size = 0;

  /** Appends bytes; frames come out of next(). */
  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** The next whole frame, or undefined until more bytes arrive. Throws SpdyProtocolError. */
  next(): Frame | undefined {
    if (this.size < 8) return undefined;
    const head = this.take(8, false);
    const length = head.readUInt32BE(4) & 0xffffff;
    if ((head[0]! & 0x80) !== 0 && length > MAX_CONTROL_FRAME_PAYLOAD) {
      throw new SpdyProtocolError(`control frame of ${length} bytes (limit ${MAX_CONTROL_FRAME_PAYLOAD})`);
    }
    if (this.size < 8 + length) return undefined;
    return parseFrame(this.take(8 + length, true));
  }

  /** Appends bytes and returns every frame now complete. */
  push(chunk: Buffer): Frame[] {
    this.append(chunk);
    const frames: Frame[] = [];
    for (let f = this.next(); f; f = this.next()) frames.push(f);
    return frames;
  }

  get buffered(): number {
    return this.size;
  }

  /** The first n buffered bytes (n <= size); removed from the buffer when consume is set. */
  private take(n: number, consume: boolean): Buffer {
    if (this.chunks[0]!.length < n) {
      const parts: Buffer[] = [];
      let have = 0;
      for (const c of this.chunks) {
        if (have >= n) break;
        parts.push(c);
        have += c.length;
      }
      // Keep the join, so a header peeked now is not joined again when its frame is taken.
      this.chunks.splice(0, parts.length, Buffer.concat(parts, have));
    }
    const head = this.chunks[0]!;
    if (!consume) return head.subarray(0, n);
    if (head.length === n) this.chunks.shift();
    else this.chunks[0] = head.subarray(n);
    this.size -= n;
    return head.subarray(0, n);
  }
}

function parseFrame(f: Buffer): Frame {
  const flags = f[4]!;
  const payload = f.subarray(8);
  if ((f[0]! & 0x80) === 0) {
    // Copy: the payload outlives the parser's buffer in stream queues.
    return { type: 'data', streamId: f.readUInt32BE(0) & 0x7fffffff, flags, data: Buffer.from(payload) };
  }
  const version = f.readUInt16BE(0) & 0x7fff;
  if (version !== SPDY_VERSION) throw new SpdyProtocolError(`unsupported SPDY version ${version}`);
  const type = f.readUInt16BE(2);
  const need = (n: number): void => {
    if (payload.length < n) throw new SpdyProtocolError(`control frame type ${type} too short (${payload.length} bytes)`);
  };
  switch (type) {
    case ControlType.SynStream:
      need(10);
      return {
        type: 'syn_stream',
        streamId: payload.readUInt32BE(0) & 0x7fffffff,
        assocStreamId: payload.readUInt32BE(4) & 0x7fffffff,
        priority: payload[8]! >> 5,
        flags,
        headerBlock: Buffer.from(payload.subarray(10)),
      };
    case ControlType.SynReply:
      need(4);
      return { type: 'syn_reply', streamId: payload.readUInt32BE(0) & 0x7fffffff, flags, headerBlock: Buffer.from(payload.subarray(4)) };
    case ControlType.Headers:
      need(4);
      return { type: 'headers', streamId: payload.readUInt32BE(0) & 0x7fffffff, flags, headerBlock: Buffer.from(payload.subarray(4)) };
    case ControlType.RstStream:
      need(8);
      return { type: 'rst_stream', streamId: payload.readUInt32BE(0) & 0x7fffffff, status: payload.readUInt32BE(4) };
    case ControlType.Settings: {
      need(4);
      const n = payload.readUInt32BE(0);
      need(4 + 8 * n);
      const entries = [];
      for (let i = 0; i < n; i++) {
        const fid = payload.readUInt32BE(4 + 8 * i);
        entries.push({ flags: fid >>> 24, id: fid & 0xffffff, value: payload.readUInt32BE(8 + 8 * i) });
      }
      return { type: 'settings', flags, entries };
    }
    case ControlType.Ping:
      need(4);
      return { type: 'ping', id: payload.readUInt32BE(0) };
    case ControlType.GoAway:
      need(4);
      return { type: 'goaway', lastGoodStreamId: payload.readUInt32BE(0) & 0x7fffffff, status: payload.length >= 8 ? payload.readUInt32BE(4) : 0 };
    case ControlType.WindowUpdate:
      need(8);
      return { type: 'window_update', streamId: payload.readUInt32BE(0) & 0x7fffffff, delta: payload.readUInt32BE(4) & 0x7fffffff };
    default:
      return { type: 'unknown', controlType: type, flags, payload: Buffer.from(payload) };
  }
}
