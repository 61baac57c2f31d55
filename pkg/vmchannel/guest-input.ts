// Validation of what the guest agent sends the host. The guest is untrusted: every payload is decoded
// here, and anything the protocol (api/agent/agent.proto) does not allow becomes a GuestProtocolError,
// which the AgentClient turns into closing the channel: never an exception out of a socket handler.
import { AgentError, Code, EventCodec, ExitStatusCodec, ResponseCodec, type Event__Output, type ExitStatus__Output, type Response__Output } from './codec.js';
import { FrameKind } from './frame.js';

/** The guest broke the channel protocol; the message says what it did. */
export class GuestProtocolError extends AgentError {
  constructor(what: string) {
    super(Code.Unavailable, `guest agent protocol violation: ${what}`);
    this.name = 'GuestProtocolError';
  }
}

const KIND_NAMES = new Map<number, string>(Object.entries(FrameKind).map(([name, k]) => [k, name.toUpperCase()]));

/** "DATA", "WINDOW"... for messages. */
export function kindName(kind: number): string {
  return KIND_NAMES.get(kind) ?? `kind ${kind}`;
}

/** Guest->host DATA carries stdout (1) or stderr (2); fd 0 (stdin) only flows host->guest. */
const GUEST_DATA_FDS = new Set([1, 2]);

/** DATA payload: u8 fd + bytes (the bytes may be empty: a signal, but the fd byte must be there). */
export function decodeGuestData(stream: number, payload: Buffer): { fd: number; bytes: Buffer } {
  if (payload.length < 1) throw new GuestProtocolError(`empty DATA frame (no fd byte) on stream ${stream}`);
  const fd = payload.readUInt8(0);
  if (!GUEST_DATA_FDS.has(fd)) throw new GuestProtocolError(`DATA for fd ${fd} on stream ${stream}`);
  return { fd, bytes: payload.subarray(1) };
}

/** WINDOW payload: exactly one u32 BE credit, not zero (a zero grant is a frame for nothing). */
export function decodeGuestWindow(stream: number, payload: Buffer): number {
  if (payload.length !== 4) throw new GuestProtocolError(`WINDOW frame of ${payload.length} bytes (not 4) on stream ${stream}`);
  const credit = payload.readUInt32BE(0);
  if (credit === 0) throw new GuestProtocolError(`WINDOW frame granting 0 bytes on stream ${stream}`);
  return credit;
}

/** protobufjs throws on malformed input (bad wire type, truncated varint, length past the end...). */
function decodeProto<T>(what: string, stream: number, decode: (b: Uint8Array) => T, payload: Buffer): T {
  try {
    return decode(payload);
  } catch (e) {
    throw new GuestProtocolError(`undecodable ${what} on stream ${stream} (${payload.length} bytes): ${(e as Error).message}`);
  }
}

export function decodeGuestEvent(payload: Buffer): Event__Output {
  return decodeProto('EVENT', 0, (b) => EventCodec.decode(b), payload);
}

export function decodeGuestResponse(stream: number, payload: Buffer): Response__Output {
  return decodeProto('RESPONSE', stream, (b) => ResponseCodec.decode(b), payload);
}

/** CLOSE payload: empty, or the ExitStatus of a process stream. */
export function decodeGuestClose(stream: number, payload: Buffer): ExitStatus__Output | null {
  if (payload.length === 0) return null;
  return decodeProto('CLOSE exit status', stream, (b) => ExitStatusCodec.decode(b), payload);
}
