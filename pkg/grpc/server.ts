// The CRI gRPC server: every RPC goes through one wrapper that assigns a request id, logs one
// line per call with its duration and outcome, maps thrown errors to gRPC statuses, and answers
// UNIMPLEMENTED for RPCs no module provides (never a fake success).
import * as grpc from '@grpc/grpc-js';
import type { ServerSurfaceCall } from '@grpc/grpc-js/build/src/server-call.js';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync, existsSync, lstatSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { criServiceDefinitions } from '../api/cri-services.js';
import { unimplemented } from '../errors/errors.js';
import { toStatus } from './errors.js';
import type { CallContext, ImageHandlers, ResponseStream, RuntimeHandlers } from './handlers.js';

import type { RpcObserver } from '../metrics/rpc-observer.js';

export type { RpcObserver };

export interface CriServerOptions {
  address: string;
  log: Logger;
  runtime: Partial<RuntimeHandlers>;
  image: Partial<ImageHandlers>;
  observer?: RpcObserver;
  maxMessageBytes?: number;
}

const ID_FIELDS = ['pod_sandbox_id', 'container_id'] as const;
const POLLING_RPC = /^(List|Version|Status$|ImageStatus|PodSandboxStatus|ContainerStatus|ImageFsInfo|.*Stats$)/;

function idsOf(req: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (req && typeof req === 'object') {
    for (const k of ID_FIELDS) {
      const v = (req as Record<string, unknown>)[k];
      if (typeof v === 'string' && v) out[k] = v.slice(0, 80);
    }
    const config = (req as { config?: { metadata?: { name?: unknown; namespace?: unknown } } }).config;
    if (config?.metadata && typeof config.metadata.name === 'string') {
      out.name = config.metadata.name.slice(0, 120);
      if (typeof config.metadata.namespace === 'string') out.namespace = config.metadata.namespace.slice(0, 120);
    }
  }
  return out;
}

/**
 * Ids a call created (RunPodSandbox → pod_sandbox_id, CreateContainer → container_id), added to its
 * log line so `grep <id>` finds a pod's or container's whole life, creation included.
 */
function createdIds(res: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (res && typeof res === 'object') {
    for (const k of ID_FIELDS) {
      const v = (res as Record<string, unknown>)[k];
      if (typeof v === 'string' && v) out[k] = v.slice(0, 80);
    }
  }
  return out;
}

function deadlineOf(call: ServerSurfaceCall): number | undefined {
  const d = call.getDeadline();
  if (d instanceof Date) return d.getTime();
  if (typeof d === 'number' && Number.isFinite(d)) return d;
  return undefined;
}

type AnyUnary = (req: unknown, ctx: CallContext) => Promise<unknown>;
type AnyStreaming = (req: unknown, stream: ResponseStream<unknown>, ctx: CallContext) => Promise<void>;

function makeContext(call: ServerSurfaceCall, log: Logger): { ctx: CallContext; done: () => void } {
  const ac = new AbortController();
  const onCancel = () => ac.abort(new Error('cancelled by client'));
  call.on('cancelled', onCancel);
  const deadline = deadlineOf(call);
  let timer: NodeJS.Timeout | undefined;
  if (deadline !== undefined) {
    const ms = Math.max(0, deadline - Date.now());
    if (ms < 2 ** 31) timer = setTimeout(() => ac.abort(new Error('deadline exceeded')), ms);
  }
  return {
    ctx: { log, signal: ac.signal, deadline },
    done: () => {
      if (timer) clearTimeout(timer);
      call.removeListener('cancelled', onCancel);
    },
  };
}

/** A handler that gave up because the call was cancelled or timed out reports that, not INTERNAL. */
function abortStatus(ctx: CallContext, e: unknown): { code: grpc.status; details: string } | undefined {
  if (!ctx.signal.aborted || e !== ctx.signal.reason) return undefined;
  const deadline = ctx.deadline !== undefined && Date.now() >= ctx.deadline;
  return { code: deadline ? grpc.status.DEADLINE_EXCEEDED : grpc.status.CANCELLED, details: (e as Error).message };
}

function wrapService(
  serviceName: string,
  definition: grpc.ServiceDefinition,
  impl: Record<string, unknown>,
  base: Logger,
  observer?: RpcObserver,
): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  for (const [method, def] of Object.entries(definition)) {
    const handler = impl[method] as AnyUnary | AnyStreaming | undefined;
    if (def.responseStream && !def.requestStream) {
      out[method] = ((call: grpc.ServerWritableStream<unknown, unknown>) => {
        const reqId = randomBytes(6).toString('hex');
        const log = base.child({ rpc: method, req: reqId, ...idsOf(call.request) });
        const started = process.hrtime.bigint();
        const { ctx, done } = makeContext(call, log);
        const finish = (code: grpc.status, details?: string) => {
          done();
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          observer?.onRpc(serviceName, method, code, seconds);
          log.info({ code: grpc.status[code], ms: Math.round(seconds * 1e4) / 10, ...(details ? { err: details } : {}) }, 'rpc');
        };
        if (!handler) {
          const e = toStatus(unimplemented(`${method} is not implemented by Bulkhead`));
          call.emit('error', e);
          finish(e.code, e.details);
          return;
        }
        const stream: ResponseStream<unknown> = {
          signal: ctx.signal,
          write: (msg) =>
            new Promise<void>((resolve, reject) => {
              if (ctx.signal.aborted) return reject(ctx.signal.reason);
              const ok = call.write(msg);
              if (ok) resolve();
              else call.once('drain', () => resolve());
            }),
        };
        (handler as AnyStreaming)(call.request, stream, ctx).then(
          () => {
            call.end();
            finish(grpc.status.OK);
          },
          (e: unknown) => {
            if (ctx.signal.aborted) {
              finish(grpc.status.CANCELLED);
              return;
            }
            const s = abortStatus(ctx, e) ?? toStatus(e);
            if (s.code === grpc.status.INTERNAL) log.error({ err: e }, 'rpc internal error');
            call.emit('error', { code: s.code, details: s.details });
            finish(s.code, s.details);
          },
        );
      }) as grpc.handleServerStreamingCall<unknown, unknown>;
    } else if (!def.requestStream && !def.responseStream) {
      out[method] = ((call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        const reqId = randomBytes(6).toString('hex');
        const log = base.child({ rpc: method, req: reqId, ...idsOf(call.request) });
        const started = process.hrtime.bigint();
        const { ctx, done } = makeContext(call, log);
        const finish = (code: grpc.status, details?: string, res?: unknown) => {
          done();
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          observer?.onRpc(serviceName, method, code, seconds);
          // Polling RPCs (List*, *Status, *Stats, Version) succeed every few seconds: debug; the rest: info.
          const quiet = code === grpc.status.OK && POLLING_RPC.test(method);
          log[quiet ? 'debug' : code === grpc.status.INTERNAL ? 'warn' : 'info'](
            { code: grpc.status[code], ms: Math.round(seconds * 1e4) / 10, ...createdIds(res), ...(details ? { err: details } : {}) },
            'rpc',
          );
        };
        if (!handler) {
          const e = toStatus(unimplemented(`${method} is not implemented by Bulkhead`));
          callback(e);
          finish(e.code, e.details);
          return;
        }
        (handler as AnyUnary)(call.request, ctx).then(
          (res) => {
            callback(null, res);
            finish(grpc.status.OK, undefined, res);
          },
          (e: unknown) => {
            const s = abortStatus(ctx, e) ?? toStatus(e);
            if (s.code === grpc.status.INTERNAL) log.error({ err: e }, 'rpc internal error');
            callback({ code: s.code, details: s.details });
            finish(s.code, s.details);
          },
        );
      }) as grpc.handleUnaryCall<unknown, unknown>;
    }
  }
  return out;
}

export class CriServer {
  private readonly server: grpc.Server;
  constructor(private readonly opts: CriServerOptions) {
    const max = opts.maxMessageBytes ?? 16 * 1024 * 1024;
    this.server = new grpc.Server({ 'grpc.max_receive_message_length': max, 'grpc.max_send_message_length': max });
    const services = criServiceDefinitions();
    this.server.addService(
      services.RuntimeService,
      wrapService('RuntimeService', services.RuntimeService, opts.runtime as Record<string, unknown>, opts.log, opts.observer),
    );
    this.server.addService(
      services.ImageService,
      wrapService('ImageService', services.ImageService, opts.image as Record<string, unknown>, opts.log, opts.observer),
    );
  }

  /** Binds the unix socket (replacing a stale one) and restricts it to root (0660). */
  async listen(): Promise<void> {
    const path = this.opts.address;
    mkdirSync(dirname(path), { recursive: true, mode: 0o711 });
    if (existsSync(path)) {
      if (!lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket`);
      rmSync(path);
    }
    const oldMask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) =>
        this.server.bindAsync(`unix://${path}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
      );
    } finally {
      process.umask(oldMask);
    }
    chmodSync(path, 0o660);
  }

  /** Stops accepting calls, lets in-flight ones finish for up to `graceMs`, then forces. */
  async shutdown(graceMs = 5000): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    });
    rmSync(this.opts.address, { force: true });
  }
}
