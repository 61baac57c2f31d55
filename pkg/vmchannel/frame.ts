// Framing of the host<->agent virtio-serial byte stream (shared by the daemon and the guest agent).
//   u32 BE payload length | u32 BE stream id | u8 kind | payload
// One byte stream carries many logical streams (RPCs, stdio, logs), told apart by stream id.

export const FrameKind = {
  Request: 1,
  Response: 2,
  Data: 3,
  Close: 4,
  Window: 5,
  Event: 6,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export interface Frame {
  stream: number;
  kind: FrameKind;
  payload: Buffer;
}

export const HEADER_BYTES = 9;
/** Larger frames are a protocol error (or garbage after a reconnect): the decoder refuses them. */
export const MAX_PAYLOAD = 8 << 20;
/** Stdio/log DATA chunks are cut to this size so one stream cannot hog the channel for long. */
export const DATA_CHUNK = 64 << 10;
/** Stream 0 carries unsolicited agent events. */
export const EVENT_STREAM = 0;

export class FrameError extends Error {}

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

/** Incremental decoder: feed arbitrary chunks, get whole frames. */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const frames: Frame[] = [];
    while (this.buf.length >= HEADER_BYTES) {
      const len = this.buf.readUInt32BE(0);
      const kind = this.buf.readUInt8(8);
      if (len > MAX_PAYLOAD || !KINDS.has(kind)) {
        this.buf = Buffer.alloc(0);
        throw new FrameError(`bad frame header (length ${len}, kind ${kind})`);
      }
      if (this.buf.length < HEADER_BYTES + len) break;
      frames.push({
        stream: this.buf.readUInt32BE(4),
        kind: kind as FrameKind,
        payload: Buffer.from(this.buf.subarray(HEADER_BYTES, HEADER_BYTES + len)),
      });
      this.buf = this.buf.subarray(HEADER_BYTES + len);
    }
    return frames;
  }

  /** Drops a partial frame (the peer went away mid-frame). */
  reset(): void {
    this.buf = Buffer.alloc(0);
  }
}
