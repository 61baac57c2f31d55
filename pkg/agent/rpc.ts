// What an agent RPC handler is: a function from the decoded request of its kind to the reply of that
// kind (pkg/vmchannel/protocol.ts), with the stream it arrived on for the RPCs that stream DATA.
// The handler table (one handler per request kind) is checked complete by the compiler in server.ts.
import type { Writable } from 'node:stream';
import type { ExitStatus } from '../vmchannel/codec.js';
import type { DecodedRequestOf, ReplyOf, RequestKind } from '../vmchannel/protocol.js';

/** Host->agent traffic on an open stream: stdin bytes go to `target` (null: dropped), CLOSE calls close(). */
export interface StreamSink {
  target: Writable | null | undefined;
  close(): void;
  /** An empty fd-0 DATA frame (attach: stdin EOF while the session goes on). */
  eof?(): void;
}

/** The stream a request arrived on, as its handler may use it after (never before) the reply. */
export interface StreamContext {
  readonly stream: number;
  /** Sends DATA within the host's window; false: the rest is queued, pause the producer until onDrain. */
  sendData(fd: number, bytes: Buffer): boolean;
  /** f runs once every queued DATA byte of the stream went out (at once when none is queued). */
  onDrain(f: () => void): void;
  /** CLOSE (with the exit status of a process stream), after every queued DATA byte. */
  close(exit?: ExitStatus): void;
  /** DATA bytes queued beyond the host's window. */
  readonly backlog: number;
  /** Where the host's DATA/CLOSE on this stream go from now on. */
  setSink(sink: StreamSink): void;
  dropSink(): void;
  /** What stops this stream's producer when the host goes away (log followers, forwards, attaches). */
  setPusher(stop: () => void): void;
  dropPusher(): void;
}

export type Handler<K extends RequestKind> = (req: DecodedRequestOf<K>, ctx: StreamContext) => ReplyOf<K> | Promise<ReplyOf<K>>;

/** One handler per request kind. */
export type HandlerTable = { [K in RequestKind]: Handler<K> };

/** The handlers of one feature module (a slice of the table). */
export type Handlers<K extends RequestKind> = Pick<HandlerTable, K>;
