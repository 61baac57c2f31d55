// Host side of the agent channel: connects to the VM's virtio-serial chardev socket, performs the Hello
// handshake (discarding stale bytes the guest queued while no host was connected) and multiplexes RPCs,
// stdio/log streams and agent events over the one connection.
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { randomBytes, randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { FrameDecoder, FrameError, FrameKind, encodeFrame, encodeData, type Frame, EVENT_STREAM, DATA_CHUNK, MAX_GUEST_PAYLOAD } from './frame.js';
import { DEFAULT_WINDOW, RecvWindow, SendWindow, encodeWindow } from './flow.js';
import { AgentError, Code, RequestCodec, ResponseCodec, type Event__Output, type Response__Output } from './codec.js';
import { AgentFeature, requestOf, responseBody, type RequestKind, type RequestOf, type ResponseOf, type StreamingKind } from './protocol.js';
import type { OpenStream, PendingCall, StreamHandlers } from './streams.js';
import { GuestProtocolError, decodeGuestClose, decodeGuestData, decodeGuestEvent, decodeGuestResponse, decodeGuestWindow, kindName } from './guest-input.js';
const KNOWN_FEATURES: ReadonlySet<string> = new Set(Object.values(AgentFeature));

export { GuestProtocolError } from './guest-input.js';
export type { OpenStream, StreamHandlers } from './streams.js';

/** Most DATA the host has unacknowledged per stream towards the guest: 4 of our agent's 256 KiB windows. */
export const MAX_PEER_WINDOW = 4 * DEFAULT_WINDOW;

export interface AgentClientEvents {
  event: [Event__Output];
  /**
   * The channel is gone: null when the guest side closed it cleanly, otherwise why the host closed it
   * (a GuestProtocolError when the guest broke the protocol). Pending calls were failed with the same error.
   */
  disconnect: [Error | null];
}

export class AgentClient extends EventEmitter<AgentClientEvents> {
  private sock: Socket | null = null;
  private readonly decoder = new FrameDecoder(MAX_GUEST_PAYLOAD);
  private readonly pending = new Map<number, PendingCall>();
  private nextStream = randomInt(1, 1 << 30);
  private dropped = 0;
  private synced = false;
  private helloStream = -1;
  private helloNonce = '';
  /** What the agent named in its Hello (protocol.ts AgentFeature); none from an older agent. */
  private agentFeatures: ReadonlySet<string> = new Set();
  /** The agent's receive window per stream, as the host honours it (see onFrameBeforeSync). */
  private peerWindow = DEFAULT_WINDOW;

  constructor(readonly socketPath: string) {
    super();
  }

  /** Whether the connected agent understands a newer part of the protocol (an older one answers no). */
  supports(feature: AgentFeature): boolean {
    return this.agentFeatures.has(feature);
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
    const res = this.register(this.helloStream, 'hello');
    sock.write(encodeFrame(this.helloStream, FrameKind.Request, RequestCodec.encode({ hello: { nonce: this.helloNonce, window: DEFAULT_WINDOW } })));
    const timer = setTimeout(() => this.fail(this.helloStream, new AgentError(Code.Unavailable, 'agent did not answer Hello in time')), Math.max(1, deadline - Date.now()));
    const onAbort = (): void => this.fail(this.helloStream, new AgentError(Code.Unavailable, 'aborted'));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // Only the names this host knows are kept: the list is the guest's, as long as its frame allows.
      this.agentFeatures = new Set((await res).features.filter((f) => KNOWN_FEATURES.has(f)));
    } catch (e) {
      this.close();
      throw e;
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * One request, one response: resolves with the body of the response kind that answers `kind`
   * (protocol.ts RESPONSE_KIND; any other answer closes the channel as a GuestProtocolError). Rejects
   * with AgentError (code = the agent's protocol Code) on agent errors. Hello is connect()'s alone.
   */
  async call<K extends Exclude<RequestKind, 'hello'>>(kind: K, req: RequestOf<K>, opts: { timeoutMs?: number } = {}): Promise<ResponseOf<K>> {
    const s = this.open(kind, req, {});
    const timeout = opts.timeoutMs;
    if (timeout === undefined) return s.response;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        s.response,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new AgentError(Code.Unavailable, `agent call ${kind} timed out after ${timeout} ms`)), timeout);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      // A timed-out call's late answer is dropped.
      if (!this.pending.get(s.id)?.handlers?.onData) this.pending.delete(s.id);
    }
  }

  /** A request whose stream stays open for DATA frames both ways until CLOSE. */
  openStream<K extends StreamingKind>(kind: K, req: RequestOf<K>, handlers: StreamHandlers): OpenStream<ResponseOf<K>> {
    return this.open(kind, req, handlers);
  }

  private open<K extends RequestKind>(kind: K, req: RequestOf<K>, handlers: StreamHandlers): OpenStream<ResponseOf<K>> {
    const sock = this.requireSocket();
    const id = this.allocStream();
    const response = this.register(id, kind, handlers);
    const p = this.pending.get(id)!;
    const send = new SendWindow(this.peerWindow, (fd, bytes) => {
      // (an empty DATA frame is a signal: attach stdin EOF)
      for (let off = 0; off < bytes.length || off === 0; off += DATA_CHUNK) {
        this.sock?.write(encodeFrame(id, FrameKind.Data, encodeData(fd, bytes.subarray(off, off + DATA_CHUNK))));
      }
    });
    // The host always announces DEFAULT_WINDOW in Hello and holds the guest to it, whatever window the
    // agent announces for its own side: a guest answering 0 must not get an unbounded receive side.
    const recv = new RecvWindow(DEFAULT_WINDOW, (n) => this.sock?.write(encodeFrame(id, FrameKind.Window, encodeWindow(n))));
    p.send = send;
    p.recv = recv;
    sock.write(encodeFrame(id, FrameKind.Request, RequestCodec.encode(requestOf(kind, req))));
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

  /** Frames dropped because their stream was unknown (see onFrame). */
  get droppedFrames(): number {
    return this.dropped;
  }

  private allocStream(): number {
    const id = this.nextStream;
    this.nextStream = this.nextStream >= 0x7fffffff ? 1 : this.nextStream + 1;
    return id;
  }

  /** Closes the channel because of err (a guest protocol violation): fails every call, emits 'disconnect'. */
  private abort(err: Error): void {
    const s = this.sock;
    if (!s) return;
    this.sock = null;
    this.synced = false;
    this.decoder.reset();
    s.destroy();
    this.failAll(err);
    try {
      this.emit('disconnect', err);
    } catch {
      /* a throwing listener must not turn the guest's bad frame into an exception in the socket handler */
    }
  }

  private requireSocket(): Socket {
    if (!this.sock || !this.synced) throw new AgentError(Code.Unavailable, 'agent not connected');
    return this.sock;
  }

  private register<K extends RequestKind>(id: number, kind: K, handlers?: StreamHandlers): Promise<ResponseOf<K>> {
    return new Promise<ResponseOf<K>>((resolve, reject) => {
      // The only place a body becomes ResponseOf<K>: onResponse checked it with responseBody(kind, …).
      this.pending.set(id, { kind, resolve: (body) => resolve(body as ResponseOf<K>), reject, handlers, responded: false });
    });
  }

  private fail(id: number, err: Error): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.send?.discard();
    if (!p.responded) p.reject(err);
    else {
      try {
        p.handlers?.onClose?.(null);
      } catch {
        /* one stream's handler failing must not keep the others from being failed */
      }
    }
  }

  private failAll(err: Error): void {
    for (const id of [...this.pending.keys()]) this.fail(id, err);
  }

  private attach(sock: Socket): void {
    this.sock = sock;
    this.synced = false;
    this.decoder.reset();
    sock.on('data', (chunk: Buffer) => this.onSocketData(sock, chunk));
    sock.on('close', () => {
      if (this.sock !== sock) return;
      // Only QEMU closes the chardev socket, when it exits (a guest cannot): an unfinished frame then
      // is the VM dying mid-write, not a protocol violation, so it is reported but blamed on no one.
      const partial = this.decoder.buffered;
      this.sock = null;
      this.synced = false;
      this.decoder.reset();
      this.failAll(new AgentError(Code.Unavailable, partial > 0 ? `agent connection lost in the middle of a frame (${partial} bytes buffered)` : 'agent connection lost'));
      this.emit('disconnect', null);
    });
    sock.on('error', () => {
      /* 'close' follows */
    });
  }

  /** Every byte from the guest comes through here: nothing it sends may throw out of this handler. */
  private onSocketData(sock: Socket, chunk: Buffer): void {
    if (this.sock !== sock) return;
    let frames: Frame[];
    let badHeader: FrameError | undefined;
    try {
      frames = this.decoder.push(chunk);
    } catch (e) {
      badHeader = e instanceof FrameError ? e : new FrameError(String(e));
      frames = badHeader.framesBefore;
    }
    for (const f of frames) {
      if (this.sock !== sock) return; // an earlier frame closed the channel
      try {
        this.onFrame(f);
      } catch (e) {
        // A GuestProtocolError is the guest's doing; anything else is a host handler (onData, an 'event'
        // listener) failing on the guest's input: the channel is closed either way, the daemon lives on.
        this.abort(e instanceof GuestProtocolError ? e : new AgentError(Code.Internal, `handling a ${kindName(f.kind)} frame from the guest failed: ${(e as Error).message}`));
        return;
      }
    }
    // Before sync a bad header is leftover garbage from an earlier session: keep waiting for Hello.
    if (badHeader && this.synced && this.sock === sock) this.abort(new GuestProtocolError(badHeader.message));
  }

  private onFrame(f: Frame): void {
    if (!this.synced) {
      this.onFrameBeforeSync(f);
      return;
    }
    if (f.stream === EVENT_STREAM) {
      if (f.kind !== FrameKind.Event) throw new GuestProtocolError(`${kindName(f.kind)} frame on the event stream 0`);
      const ev = decodeGuestEvent(f.payload);
      // An event kind this host does not know (a newer agent) is skipped, not an error.
      if (ev.ev) this.emit('event', ev);
      return;
    }
    if (f.kind === FrameKind.Event) throw new GuestProtocolError(`EVENT frame on stream ${f.stream} (events travel on stream 0)`);
    if (f.kind === FrameKind.Request) throw new GuestProtocolError(`REQUEST frame on stream ${f.stream} (the host serves no requests)`);
    const p = this.pending.get(f.stream);
    if (!p) {
      // Not an error, and not decoded: a stream the host closed or gave up on (a timed-out call), or
      // one of an earlier daemon's (after a restart the agent still answers the old session's calls,
      // e.g. a WaitContainer, when their container exits). Dropping costs at most one bounded frame.
      this.dropped++;
      return;
    }
    switch (f.kind) {
      case FrameKind.Response:
        this.onResponse(f.stream, p, decodeGuestResponse(f.stream, f.payload));
        return;
      case FrameKind.Data: {
        const d = decodeGuestData(f.stream, f.payload);
        if (!p.handlers?.onData) throw new GuestProtocolError(`DATA frame on stream ${f.stream}, a call without output`);
        if (p.recv && !p.recv.received(d.bytes.length)) {
          throw new GuestProtocolError(`window overrun on stream ${f.stream}: ${d.bytes.length} DATA bytes with ${p.recv.credit} bytes of credit left`);
        }
        p.handlers.onData(d.fd, d.bytes);
        p.recv?.consumed(d.bytes.length);
        return;
      }
      case FrameKind.Window: {
        const credit = decodeGuestWindow(f.stream, f.payload);
        if (!p.send?.canGrant(credit)) throw new GuestProtocolError(`WINDOW frame on stream ${f.stream} grants ${credit} bytes the host never sent`);
        p.send.grant(credit);
        return;
      }
      case FrameKind.Close: {
        const exit = decodeGuestClose(f.stream, f.payload);
        this.pending.delete(f.stream);
        p.send?.discard();
        if (!p.responded) p.reject(new AgentError(Code.Internal, `agent closed stream ${f.stream} without answering`));
        else p.handlers?.onClose?.(exit);
        return;
      }
      default:
        throw new GuestProtocolError(`${kindName(f.kind)} frame on stream ${f.stream}`);
    }
  }

  /** Only the answer to our Hello ends the resync; anything older is from a previous host session. */
  private onFrameBeforeSync(f: Frame): void {
    if (f.kind !== FrameKind.Response || f.stream !== this.helloStream) return;
    let r: Response__Output;
    try {
      r = ResponseCodec.decode(f.payload);
    } catch {
      return;
    }
    if (r.hello?.nonce !== this.helloNonce) return;
    this.synced = true;
    // Whatever window the guest announces, the host keeps at most MAX_PEER_WINDOW unacknowledged per
    // stream: a guest announcing 0 ("no flow control", which no agent of ours does) or 4 GiB and then
    // not reading would have the host buffer all a client uploads (port-forward, stdin) in the socket.
    this.peerWindow = Math.min(r.hello.window || DEFAULT_WINDOW, MAX_PEER_WINDOW);
    const p = this.pending.get(f.stream);
    this.pending.delete(f.stream);
    p?.resolve(r.hello);
  }

  private onResponse(stream: number, p: PendingCall, r: Response__Output): void {
    if (p.responded) throw new GuestProtocolError(`second RESPONSE on stream ${stream}`);
    // Checked while the call is still pending, so the abort that follows a violation fails it too.
    const answer = r.error ? undefined : responseBody(p.kind, r);
    if (answer && 'wrong' in answer) throw new GuestProtocolError(`${answer.wrong} on stream ${stream}`);
    p.responded = true;
    if (!p.handlers?.onData && !p.handlers?.onClose) this.pending.delete(stream);
    if (!answer) {
      this.pending.delete(stream);
      p.reject(new AgentError(r.code || Code.Internal, r.error));
    } else p.resolve(answer.body);
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
