// Host side of the agent channel: connects to the VM's virtio-serial chardev socket, performs the Hello
// handshake (discarding stale bytes the guest queued while no host was connected) and multiplexes RPCs,
// stdio/log streams and agent events over the one connection.
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { randomBytes, randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { FrameDecoder, FrameKind, encodeFrame, encodeData, decodeData, type Frame, EVENT_STREAM, DATA_CHUNK } from './frame.js';
import { DEFAULT_WINDOW, RecvWindow, SendWindow, decodeWindow, encodeWindow } from './flow.js';
import {
  AgentError,
  Code,
  EventCodec,
  ExitStatusCodec,
  RequestCodec,
  ResponseCodec,
  type Event__Output,
  type ExitStatus__Output,
  type Request,
  type Response__Output,
} from './codec.js';

export interface StreamHandlers {
  onData?(fd: number, bytes: Buffer): void;
  /** The agent closed the stream; exit is set for process streams (exec). */
  onClose?(exit: ExitStatus__Output | null): void;
}

export interface OpenStream {
  readonly id: number;
  /** The RPC's single response (rejects with AgentError). */
  readonly response: Promise<Response__Output>;
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

interface Pending {
  resolve(r: Response__Output): void;
  reject(e: Error): void;
  handlers?: StreamHandlers;
  responded: boolean;
  send?: SendWindow;
  recv?: RecvWindow;
}

export interface AgentClientEvents {
  event: [Event__Output];
  disconnect: [Error | null];
}

export class AgentClient extends EventEmitter<AgentClientEvents> {
  private sock: Socket | null = null;
  private readonly decoder = new FrameDecoder();
  private readonly pending = new Map<number, Pending>();
  private nextStream = randomInt(1, 1 << 30);
  private synced = false;
  private helloStream = -1;
  private helloNonce = '';
  /** The agent's receive window per stream (0: agent without flow control). */
  private peerWindow = 0;

  constructor(readonly socketPath: string) {
    super();
  }

  get connected(): boolean {
    return this.sock !== null && this.synced;
  }

  /** Connects (retrying while the socket does not accept yet) and completes the Hello handshake. */
  async connect(opts: { timeoutMs: number; signal?: AbortSignal }): Promise<void> {
    const deadline = Date.now() + opts.timeoutMs;
    let sock: Socket | null = null;
    while (!sock) {
      opts.signal?.throwIfAborted();
      try {
        sock = await openSocket(this.socketPath);
      } catch (e) {
        if (Date.now() > deadline) throw new AgentError(Code.Unavailable, `agent socket ${this.socketPath}: ${(e as Error).message}`);
        await sleep(20);
      }
    }
    this.attach(sock);
    this.helloNonce = randomBytes(12).toString('hex');
    this.helloStream = this.allocStream();
    const res = this.register(this.helloStream);
    sock.write(encodeFrame(this.helloStream, FrameKind.Request, RequestCodec.encode({ hello: { nonce: this.helloNonce, window: DEFAULT_WINDOW } })));
    const timer = setTimeout(() => this.fail(this.helloStream, new AgentError(Code.Unavailable, 'agent did not answer Hello in time')), Math.max(1, deadline - Date.now()));
    const onAbort = (): void => this.fail(this.helloStream, new AgentError(Code.Unavailable, 'aborted'));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await res;
    } catch (e) {
      this.close();
      throw e;
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** One request, one response. Rejects with AgentError (code = gRPC status) on agent errors. */
  async call(req: Request, opts: { timeoutMs?: number } = {}): Promise<Response__Output> {
    const s = this.openStream(req, {});
    const timeout = opts.timeoutMs;
    if (timeout === undefined) return s.response;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        s.response,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new AgentError(Code.Unavailable, `agent call ${req ? Object.keys(req)[0] : ''} timed out after ${timeout} ms`)), timeout);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      // A timed-out call's late answer is dropped.
      if (!this.pending.get(s.id)?.handlers?.onData) this.pending.delete(s.id);
    }
  }

  /** A request whose stream stays open for DATA frames both ways until CLOSE. */
  openStream(req: Request, handlers: StreamHandlers): OpenStream {
    const sock = this.requireSocket();
    const id = this.allocStream();
    const response = this.register(id, handlers);
    const p = this.pending.get(id)!;
    const send = new SendWindow(this.peerWindow, (fd, bytes) => {
      // (an empty DATA frame is a signal: attach stdin EOF)
      for (let off = 0; off < bytes.length || off === 0; off += DATA_CHUNK) {
        this.sock?.write(encodeFrame(id, FrameKind.Data, encodeData(fd, bytes.subarray(off, off + DATA_CHUNK))));
      }
    });
    const recv = new RecvWindow(this.peerWindow > 0 ? DEFAULT_WINDOW : 0, (n) => this.sock?.write(encodeFrame(id, FrameKind.Window, encodeWindow(n))));
    p.send = send;
    p.recv = recv;
    sock.write(encodeFrame(id, FrameKind.Request, RequestCodec.encode(req)));
    return {
      id,
      response,
      write: (fd, bytes) => send.write(fd, bytes),
      onDrain: (f) => send.onDrain(f),
      close: () => send.onDrain(() => this.sock?.write(encodeFrame(id, FrameKind.Close))),
      pause: () => recv.pause(),
      resume: () => recv.resume(),
    };
  }

  close(): void {
    const s = this.sock;
    this.sock = null;
    this.synced = false;
    s?.destroy();
    this.failAll(new AgentError(Code.Unavailable, 'agent connection closed'));
  }

  private allocStream(): number {
    const id = this.nextStream;
    this.nextStream = this.nextStream >= 0x7fffffff ? 1 : this.nextStream + 1;
    return id;
  }

  private requireSocket(): Socket {
    if (!this.sock || !this.synced) throw new AgentError(Code.Unavailable, 'agent not connected');
    return this.sock;
  }

  private register(id: number, handlers?: StreamHandlers): Promise<Response__Output> {
    return new Promise<Response__Output>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, handlers, responded: false });
    });
  }

  private fail(id: number, err: Error): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.send?.discard();
    if (!p.responded) p.reject(err);
    else p.handlers?.onClose?.(null);
  }

  private failAll(err: Error): void {
    for (const id of [...this.pending.keys()]) this.fail(id, err);
  }

  private attach(sock: Socket): void {
    this.sock = sock;
    this.synced = false;
    this.decoder.reset();
    sock.on('data', (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = this.decoder.push(chunk);
      } catch {
        // Before sync this is leftover garbage from an earlier session: keep waiting for Hello.
        if (this.synced) this.close();
        return;
      }
      for (const f of frames) this.onFrame(f);
    });
    sock.on('close', () => {
      if (this.sock !== sock) return;
      this.sock = null;
      this.synced = false;
      this.failAll(new AgentError(Code.Unavailable, 'agent connection lost'));
      this.emit('disconnect', null);
    });
    sock.on('error', () => {
      /* 'close' follows */
    });
  }

  private onFrame(f: Frame): void {
    if (!this.synced) {
      // Only the answer to our Hello ends the resync; anything older is from a previous host session.
      if (f.kind !== FrameKind.Response || f.stream !== this.helloStream) return;
      let r: Response__Output;
      try {
        r = ResponseCodec.decode(f.payload);
      } catch {
        return;
      }
      if (r.hello?.nonce !== this.helloNonce) return;
      this.synced = true;
      this.peerWindow = r.hello.window ?? 0;
      const p = this.pending.get(f.stream);
      this.pending.delete(f.stream);
      p?.resolve(r);
      return;
    }
    if (f.kind === FrameKind.Event && f.stream === EVENT_STREAM) {
      this.emit('event', EventCodec.decode(f.payload));
      return;
    }
    const p = this.pending.get(f.stream);
    if (!p) return;
    switch (f.kind) {
      case FrameKind.Response: {
        const r = ResponseCodec.decode(f.payload);
        p.responded = true;
        if (!p.handlers?.onData && !p.handlers?.onClose) this.pending.delete(f.stream);
        if (r.error) {
          this.pending.delete(f.stream);
          p.reject(new AgentError(r.code || Code.Internal, r.error));
        } else p.resolve(r);
        break;
      }
      case FrameKind.Data: {
        const d = decodeData(f.payload);
        p.handlers?.onData?.(d.fd, d.bytes);
        p.recv?.consumed(d.bytes.length);
        break;
      }
      case FrameKind.Window:
        p.send?.grant(decodeWindow(f.payload));
        break;
      case FrameKind.Close:
        this.pending.delete(f.stream);
        p.send?.discard();
        p.handlers?.onClose?.(f.payload.length ? ExitStatusCodec.decode(f.payload) : null);
        break;
      default:
        break;
    }
  }
}

function openSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once('connect', () => {
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', (e) => {
      s.destroy();
      reject(e);
    });
  });
}
