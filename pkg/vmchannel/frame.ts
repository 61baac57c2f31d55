// Framing of the host<->agent virtio-serial byte stream (shared by the daemon and the guest agent).
//   u32 BE payload length | u32 BE stream id | u8 kind | payload
// One byte stream carries many logical streams (RPCs, stdio, logs), told apart by stream id.

import { FrameKind, HEADER_BYTES, MAX_PAYLOAD } from './protocol.js';

// The constants live with the rest of the protocol (protocol.ts); re-exported for the framing's users.
export { FrameKind, HEADER_BYTES, MAX_PAYLOAD, DATA_CHUNK, MAX_GUEST_PAYLOAD, EVENT_STREAM } from './protocol.js';

export interface Frame {
  stream: number;
  kind: FrameKind;
  payload: Buffer;
}

export class FrameError extends Error {
  /** Whole frames that came before the bad header in the same push(): still to be handled, in order. */
  framesBefore: Frame[] = [];
}

export function encodeFrame(stream: number, kind: FrameKind, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  if (payload.length > MAX_PAYLOAD) throw new FrameError(`frame payload ${payload.length} > ${MAX_PAYLOAD}`);
  const out = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.writeUInt32BE(stream >>> 0, 4);
  out.writeUInt8(kind, 8);
  out.set(payload, HEADER_BYTES);
  return out;
}

/** DATA payload: u8 fd (0 stdin, 1 stdout, 2 stderr) + bytes. */
export function encodeData(fd: number, bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(1 + bytes.length);
  out.writeUInt8(fd, 0);
  out.set(bytes, 1);
  return out;
}

export function decodeData(payload: Buffer): { fd: number; bytes: Buffer } {
  if (payload.length < 1) throw new FrameError('empty DATA payload');
  return { fd: payload.readUInt8(0), bytes: payload.subarray(1) };
}

const KINDS = new Set<number>(Object.values(FrameKind));

/**
 * Incremental decoder: feed arbitrary chunks, get whole frames. Linear in the bytes fed: the header
 * is gathered in a fixed 9-byte buffer and the payload is copied once into a buffer of the declared
 * length (at most maxPayload), so a frame split into many chunks is never re-concatenated per chunk.
 * Throws FrameError on a bad header (unknown kind, length above maxPayload), carrying the frames decoded
 * before it; the decoder is reset then.
 */
export class FrameDecoder {
  private readonly header = Buffer.alloc(HEADER_BYTES);
  private headerFill = 0;
  /** The payload of the frame being read (null while reading a header). */
  private payload: Buffer | null = null;
  private payloadFill = 0;
  private stream = 0;
  private kind: FrameKind = FrameKind.Request;

  constructor(private readonly maxPayload: number = MAX_PAYLOAD) {}

  /** Bytes of the frame in progress received so far (the buffer held for it is at most maxPayload). */
  get buffered(): number {
    return this.headerFill + this.payloadFill;
  }

  push(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    let off = 0;
    while (off < chunk.length) {
      if (this.payload === null) {
        const n = Math.min(HEADER_BYTES - this.headerFill, chunk.length - off);
        chunk.copy(this.header, this.headerFill, off, off + n);
        this.headerFill += n;
        off += n;
        if (this.headerFill < HEADER_BYTES) break;
        const len = this.header.readUInt32BE(0);
        const kind = this.header.readUInt8(8);
        if (len > this.maxPayload || !KINDS.has(kind)) {
          this.reset();
          const err = new FrameError(`bad frame header (length ${len}, kind ${kind})`);
          err.framesBefore = frames;
          throw err;
        }
        this.stream = this.header.readUInt32BE(4);
        this.kind = kind as FrameKind;
        this.payload = Buffer.allocUnsafe(len);
        this.payloadFill = 0;
      }
      const n = Math.min(this.payload.length - this.payloadFill, chunk.length - off);
      chunk.copy(this.payload, this.payloadFill, off, off + n);
      this.payloadFill += n;
      off += n;
      if (this.payloadFill === this.payload.length) frames.push(this.take());
    }
    return frames;
  }

  private take(): Frame {
    const f: Frame = { stream: this.stream, kind: this.kind, payload: this.payload! };
    this.payload = null;
    this.payloadFill = 0;
    this.headerFill = 0;
    return f;
  }

  /** Drops a partial frame (the peer went away mid-frame). */
  reset(): void {
    this.payload = null;
    this.payloadFill = 0;
    this.headerFill = 0;
  }
}
