// The agent's side of the host connection: decodes frames from the serial port, dispatches each REQUEST
// to the handler table by its kind, writes the replies, and keeps the per-stream state (flow-control
// windows, stdin sinks, producers) that a host reconnect resets. Hello is handled here: it is the
// session's own handshake, not a feature.
import { FrameDecoder, FrameError, FrameKind, encodeFrame, encodeData, decodeData, type Frame, EVENT_STREAM, DATA_CHUNK } from '../vmchannel/frame.js';
import { DEFAULT_WINDOW, RecvWindow, SendWindow, decodeWindow, encodeWindow } from '../vmchannel/flow.js';
import { AgentError, Code, EventCodec, ExitStatusCodec, RequestCodec, ResponseCodec, type Event, type ExitStatus, type Request__Output, type Response } from '../vmchannel/codec.js';
import { AgentFeature, replyOf, type DecodedRequestOf, type RequestKind } from '../vmchannel/protocol.js';
import type { SerialPort } from './port.js';
import type { Handler, HandlerTable, StreamContext, StreamSink } from './rpc.js';

export const AGENT_VERSION = '0.1.0';

/** Sees each request after its answer was queued (the test-only hostile mode acts on them). */
export type OnServed = (stream: number, req: Request__Output, res: Response) => void;

export class AgentSession {
  private readonly decoder = new FrameDecoder();
  private readonly sinks = new Map<number, StreamSink>();
  /** Cleanups of streams that push data (log followers): dropped when the host goes away. */
  private readonly pushers = new Map<number, () => void>();
  private hostConnected = false;
  /** The host's receive window per stream (Hello); 0 = host without flow control. */
  private hostWindow = 0;
  private readonly sends = new Map<number, SendWindow>();
  private readonly recvs = new Map<number, RecvWindow>();
  private readonly table: HandlerTable;

  constructor(
    private readonly port: SerialPort,
    private readonly log: (msg: string) => void,
    features: Omit<HandlerTable, 'hello'>,
    private readonly onServed?: OnServed,
  ) {
    this.table = { ...features, hello: (r) => this.hello(r) };
    port.on('data', (b) => this.onData(b));
    port.on('hostGone', () => this.onHostGone());
  }

  /** Unsolicited events (exits, OOMs) on stream 0; dropped while no host is connected. */
  sendEvent(ev: Event): void {
    if (!this.hostConnected) return;
    void this.port.write(encodeFrame(EVENT_STREAM, FrameKind.Event, EventCodec.encode(ev)));
  }

  private hello(r: DecodedRequestOf<'hello'>): ReturnType<Handler<'hello'>> {
    this.hostConnected = true;
    this.hostWindow = r.window ?? 0;
    this.log(`host connected (flow control ${this.hostWindow > 0 ? 'on' : 'off'})`);
    return { nonce: r.nonce, agent_version: AGENT_VERSION, window: this.hostWindow > 0 ? DEFAULT_WINDOW : 0, features: Object.values(AgentFeature) };
  }

  private onHostGone(): void {
    this.hostConnected = false;
    this.decoder.reset();
    for (const stop of this.pushers.values()) stop();
    this.pushers.clear();
    this.sinks.clear();
    for (const w of this.sends.values()) w.discard();
    this.sends.clear();
    this.recvs.clear();
    this.log('host disconnected; waiting for reconnect');
  }

  private onData(b: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.decoder.push(b);
    } catch (e) {
      this.log(`dropping garbage: ${e instanceof FrameError ? e.message : String(e)}`);
      frames = e instanceof FrameError ? e.framesBefore : [];
    }
    // The agent must outlive a junk frame (an empty DATA, a throwing stdin target): it is the only
    // process the host can talk to in the guest. The frame is dropped and the rest still served.
    for (const f of frames) {
      try {
        this.onFrame(f);
      } catch (e) {
        this.log(`dropping frame (stream ${f.stream}, kind ${f.kind}, ${f.payload.length} bytes): ${(e as Error).message ?? String(e)}`);
      }
    }
  }

  private onFrame(f: Frame): void {
    if (f.kind === FrameKind.Request) {
      let req: Request__Output;
      try {
        req = RequestCodec.decode(f.payload);
      } catch (e) {
        this.respond(f.stream, { error: `undecodable request: ${(e as Error).message}`, code: Code.InvalidArgument });
        return;
      }
      void this.dispatch(f.stream, req).then(
        (r) => {
          this.respond(f.stream, r);
          this.onServed?.(f.stream, req, r);
        },
        (e: unknown) => {
          const err = e instanceof AgentError ? e : new AgentError(Code.Internal, (e as Error).message ?? String(e));
          this.respond(f.stream, { error: err.message, code: err.code });
        },
      );
      return;
    }
    if (f.kind === FrameKind.Window) {
      this.sends.get(f.stream)?.grant(decodeWindow(f.payload));
      return;
    }
    const sink = this.sinks.get(f.stream);
    if (!sink) return;
    if (f.kind === FrameKind.Data) {
      const d = decodeData(f.payload);
      this.receive(f.stream, sink, d.bytes);
    } else if (f.kind === FrameKind.Close) {
      sink.close();
      this.sinks.delete(f.stream);
      this.recvs.delete(f.stream);
    }
  }

  private async dispatch(stream: number, req: Request__Output): Promise<Response> {
    const kind = req.req;
    // A request kind this agent does not know (a newer host) decodes with no kind at all.
    if (!kind || !Object.hasOwn(this.table, kind)) throw new AgentError(Code.InvalidArgument, `unknown request ${String(kind)}`);
    return this.run(kind, req, this.context(stream));
  }

  private async run<K extends RequestKind>(kind: K, req: Request__Output, ctx: StreamContext): Promise<Response> {
    const body = req[kind] as DecodedRequestOf<K> | null | undefined;
    if (!body) throw new AgentError(Code.InvalidArgument, `${kind} request without its body`);
    const handler: Handler<K> = this.table[kind];
    return replyOf(kind, await handler(body, ctx));
  }

  private context(stream: number): StreamContext {
    const sends = this.sends;
    return {
      stream,
      sendData: (fd, b) => this.sendData(stream, fd, b),
      onDrain: (f) => this.onDrain(stream, f),
      close: (exit) => this.sendClose(stream, exit),
      get backlog(): number {
        return sends.get(stream)?.backlog ?? 0;
      },
      setSink: (s) => void this.sinks.set(stream, s),
      dropSink: () => void this.sinks.delete(stream),
      setPusher: (stop) => void this.pushers.set(stream, stop),
      dropPusher: () => void this.pushers.delete(stream),
    };
  }

  /** Host->guest bytes: credit goes back once the target took them (or its buffer drained). */
  private receive(stream: number, sink: StreamSink, b: Buffer): void {
    if (b.length === 0) {
      sink.eof?.();
      return;
    }
    let rw = this.recvs.get(stream);
    if (!rw) {
      rw = new RecvWindow(this.hostWindow > 0 ? DEFAULT_WINDOW : 0, (n) => void this.port.write(encodeFrame(stream, FrameKind.Window, encodeWindow(n))));
      this.recvs.set(stream, rw);
    }
    const t = sink.target;
    if (t && !t.destroyed && !t.writableEnded && !t.write(b)) {
      rw.pause();
      const w = rw;
      t.once('drain', () => w.resume());
      t.once('close', () => w.resume());
    }
    rw.consumed(b.length);
  }

  private sendWindow(stream: number): SendWindow {
    let w = this.sends.get(stream);
    if (!w) {
      w = new SendWindow(this.hostWindow, (fd, b) => {
        for (let off = 0; off < b.length || off === 0; off += DATA_CHUNK) {
          void this.port.write(encodeFrame(stream, FrameKind.Data, encodeData(fd, b.subarray(off, off + DATA_CHUNK))));
        }
      });
      this.sends.set(stream, w);
    }
    return w;
  }

  private respond(stream: number, r: Response): void {
    void this.port.write(encodeFrame(stream, FrameKind.Response, ResponseCodec.encode(r)));
  }

  private sendData(stream: number, fd: number, b: Buffer): boolean {
    if (!this.hostConnected) return true;
    return this.sendWindow(stream).write(fd, b);
  }

  private onDrain(stream: number, f: () => void): void {
    const w = this.sends.get(stream);
    if (w) w.onDrain(f);
    else f();
  }

  private sendClose(stream: number, exit?: ExitStatus): void {
    this.onDrain(stream, () => {
      this.sends.delete(stream);
      this.recvs.delete(stream);
      void this.port.write(encodeFrame(stream, FrameKind.Close, exit ? ExitStatusCodec.encode(exit) : undefined));
    });
  }
}
