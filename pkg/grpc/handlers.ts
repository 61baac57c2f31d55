// Promise-based handler signatures derived from the generated grpc-js service interfaces,
// so each RPC group file implements plain `async (req, ctx) => response` functions.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { RuntimeServiceHandlers } from '../../api/gen/cri/runtime/v1/RuntimeService.js';
import type { ImageServiceHandlers } from '../../api/gen/cri/runtime/v1/ImageService.js';

/** Per-call context handed to every handler. */
export interface CallContext {
  /** Logger bound to this call (rpc name, request id; handlers add pod/container ids with .child). */
  log: Logger;
  /** Aborted when the client cancels or the deadline passes. */
  signal: AbortSignal;
  /** Absolute deadline in ms since epoch, if the client set one. */
  deadline?: number;
}

/** Server-streaming writer with back-pressure: `write` resolves once the chunk is accepted. */
export interface ResponseStream<Res> {
  write(msg: Res): Promise<void>;
  readonly signal: AbortSignal;
}

type KnownKeys<T> = keyof { [K in keyof T as string extends K ? never : K]: T[K] };

export type AsyncHandler<H> =
  H extends grpc.handleUnaryCall<infer Req, infer Res>
    ? (req: Req, ctx: CallContext) => Promise<Res>
    : H extends grpc.handleServerStreamingCall<infer Req, infer Res>
      ? (req: Req, stream: ResponseStream<Res>, ctx: CallContext) => Promise<void>
      : never;

export type RuntimeMethod = KnownKeys<RuntimeServiceHandlers> & string;
export type ImageMethod = KnownKeys<ImageServiceHandlers> & string;

export type RuntimeHandlers = { [K in RuntimeMethod]: AsyncHandler<RuntimeServiceHandlers[K]> };
export type ImageHandlers = { [K in ImageMethod]: AsyncHandler<ImageServiceHandlers[K]> };
