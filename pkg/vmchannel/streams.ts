// The host's view of one stream on the agent channel: what callers get (OpenStream), what they hand in
// (StreamHandlers) and what the AgentClient keeps per stream (PendingCall).
import type { ExitStatus__Output } from './codec.js';
import type { RequestKind } from './protocol.js';
import type { RecvWindow, SendWindow } from './flow.js';

export interface StreamHandlers {
  onData?(fd: number, bytes: Buffer): void;
  /** The agent closed the stream; exit is set for process streams (exec). */
  onClose?(exit: ExitStatus__Output | null): void;
}

export interface OpenStream<R = unknown> {
  readonly id: number;
  /** The RPC's single response, of the kind its request kind maps to (rejects with AgentError). */
  readonly response: Promise<R>;
  /** Sends (or queues, beyond the agent's window) DATA; false: wait for onDrain before writing more. */
  write(fd: number, bytes: Buffer): boolean;
  /** f runs once every queued byte went out (at once when nothing is queued). */
  onDrain(f: () => void): void;
  /** Host side done (stdin EOF): sent after the queued DATA. */
  close(): void;
  /** The consumer of onData is full: stop acknowledging (the agent stops after one window). */
  pause(): void;
  resume(): void;
}

/** The host's state of one open stream (an RPC, and its DATA both ways until CLOSE). */
export interface PendingCall {
  /** The request kind: its response must be of the kind protocol.ts maps it to. */
  kind: RequestKind;
  /** Gets the validated response body (protocol.ts ResponseOf<kind>). */
  resolve(body: unknown): void;
  reject(e: Error): void;
  handlers?: StreamHandlers;
  responded: boolean;
  send?: SendWindow;
  recv?: RecvWindow;
}
