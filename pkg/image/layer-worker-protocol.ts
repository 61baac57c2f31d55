// Messages between the daemon thread and a layer worker (layer-worker.ts), and how errors cross
// the thread boundary. Structured clone keeps an Error's message but not its class or its errno
// fields, and pullError maps by class (UnpackError, DigestMismatchError) and by `code`.
import type { LayerDescriptor } from './layer-unpack.js';
import { UnpackError, type UnpackLimits, type UnpackStats } from './unpack-types.js';
import { DigestMismatchError } from './verify-stream.js';

/** One layer, one snapshot directory: what a 'job' message asks a layer worker to unpack. */
export interface LayerJob {
  desc: LayerDescriptor;
  diffId: string;
  root: string;
  allowDevices: boolean;
  limits?: UnpackLimits;
  /** Whether hardlinks may be looked up in lower layers (the lookup itself runs on the daemon thread). */
  lowerLookup: boolean;
}

export interface WireError {
  name: string;
  message: string;
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
}

export type ToLayerWorker =
  /** Starts a layer; a pooled worker gets one after another, never two at once. */
  | { kind: 'job'; job: LayerJob }
  /** Compressed blob bytes, in order; the buffer is transferred. */
  | { kind: 'chunk'; data: Uint8Array }
  | { kind: 'end' }
  /** The blob stream failed on the daemon side (network, abort): stop and clean up. */
  | { kind: 'abort'; error: WireError }
  | { kind: 'lookup-result'; id: number; path?: string; error?: WireError };

export type FromLayerWorker =
  /** Bytes of chunks the worker's tar pipeline has taken: the daemon may send that much more. */
  | { kind: 'ack'; bytes: number }
  | { kind: 'lookup'; id: number; rel: string }
  | { kind: 'done'; stats: UnpackStats }
  | { kind: 'error'; error: WireError };

export function toWire(e: unknown): WireError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e) };
  const n = e as NodeJS.ErrnoException;
  const w: WireError = { name: e.name, message: e.message };
  if (typeof n.code === 'string') w.code = n.code;
  if (typeof n.errno === 'number') w.errno = n.errno;
  if (typeof n.syscall === 'string') w.syscall = n.syscall;
  if (typeof n.path === 'string') w.path = n.path;
  return w;
}

export function fromWire(w: WireError): Error {
  if (w.name === 'UnpackError') return new UnpackError(w.message);
  if (w.name === 'DigestMismatchError') return new DigestMismatchError(w.message);
  const e = new Error(w.message) as NodeJS.ErrnoException;
  if (w.name !== 'Error') e.name = w.name;
  if (w.code !== undefined) e.code = w.code;
  if (w.errno !== undefined) e.errno = w.errno;
  if (w.syscall !== undefined) e.syscall = w.syscall;
  if (w.path !== undefined) e.path = w.path;
  return e;
}
