// A server-side SPDY/3.1 session over any byte duplex (an upgraded TCP socket, or a
// WebSocket tunnel). Peers open streams (SYN_STREAM); we reply, and each stream is a Node
// Duplex: readable = the peer's DATA frames, writable = our DATA frames, end() = FIN.
//
// Flow control: the only SPDY clients of the kubelet protocols (Go's moby/spdystream, used by
// client-go, kubectl, crictl, critest) neither send WINDOW_UPDATE nor honour windows, so
// waiting for send windows would stall every transfer after 64 KiB. We therefore bound memory
// with transport back-pressure instead: a stream's write completes only when the socket
// accepted the frame (so a slow client stops our reads from the process), and when a
// stream's consumer is slow we pause reading the socket (so a fast client is held back by
// TCP). We still send WINDOW_UPDATEs for consumed data so a strict SPDY/3.1 peer never stalls.
import { Duplex } from 'node:stream';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import {
  FrameParser,
  FLAG_FIN,
  MAX_FRAME_PAYLOAD,
  RstStatus,
  SpdyProtocolError,
  decodeHeaderBlock,
  encodeData,
  encodeGoAway,
  encodeHeaderBlock,
  encodePing,
  encodeRstStream,
  encodeSynReply,
  encodeWindowUpdate,
  type Frame,
  type SpdyHeaders,
} from './spdy-frames.js';
import { HeaderCompressor, HeaderDecompressor } from './spdy-zlib.js';
import { MAX_CONCURRENT_STREAMS } from './spdy-limits.js';

/** Our DATA frames carry at most this much, so one big write cannot monopolise the socket. */
const MAX_DATA_CHUNK = 32 * 1024;
/** Receive-window credit is returned in batches of this size. */
const WINDOW_UPDATE_THRESHOLD = 32 * 1024;
/** Per-stream readable buffer before we stop reading the socket. */
const STREAM_HIGH_WATER = 256 * 1024;
/**
 * Parser backlog that means the transport ignored pause(): one largest frame (16 MiB + 8) plus
 * one more of slack for the read that was in flight when we paused.
 */
const MAX_PARSER_BUFFER = 2 * (MAX_FRAME_PAYLOAD + 8);

export class SpdyStream extends Duplex {
  readonly id: number;
  readonly headers: SpdyHeaders;
  private readonly session: SpdySession;
  private remoteFinished = false;
  private localFinished = false;
  private unackedBytes = 0;

  constructor(session: SpdySession, id: number, headers: SpdyHeaders) {
    super({ allowHalfOpen: true, readableHighWaterMark: STREAM_HIGH_WATER });
    this.session = session;
    this.id = id;
    this.headers = headers;
    // An ended Readable never calls _read again, so a stream that was blocked when its FIN
    // came would keep the whole session paused: release it once it is read to the end.
    this.once('end', () => session.streamDrained(this));
  }

  /** First value of a (lower-case) header. */
  header(name: string): string | undefined {
    return this.headers[name.toLowerCase()]?.[0];
  }

  /** Accepts the stream (SYN_REPLY). kubelet's server replies to every stream as soon as it arrives. */
  reply(headers: SpdyHeaders = {}): void {
    this.session.sendFrame(encodeSynReply(this.id, this.session.encodeHeaders(headers)));
  }

  /** Aborts the stream in both directions. */
  reset(status: number = RstStatus.CANCEL): void {
    if (!this.destroyed) {
      this.session.sendFrame(encodeRstStream(this.id, status));
      this.destroy();
    }
  }

  override _read(): void {
    this.session.streamDrained(this);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.session.isClosed) return cb(new Error('SPDY session closed'));
    let last = true;
    for (let off = 0; off < chunk.length; off += MAX_DATA_CHUNK) {
      last = this.session.sendFrame(encodeData(this.id, chunk.subarray(off, off + MAX_DATA_CHUNK), false));
    }
    if (last) cb();
    else this.session.whenWritable(cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.localFinished = true;
    if (!this.session.isClosed) this.session.sendFrame(encodeData(this.id, Buffer.alloc(0), true));
    this.session.maybeForget(this);
    cb();
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.session.forget(this);
    cb(err);
  }

  /** @internal */
  receiveData(data: Buffer, fin: boolean): boolean {
    let ok = true;
    if (this.remoteFinished) return true;
    if (data.length > 0) {
      ok = this.push(data);
      this.unackedBytes += data.length;
      if (this.unackedBytes >= WINDOW_UPDATE_THRESHOLD) {
        this.session.sendFrame(encodeWindowUpdate(this.id, this.unackedBytes));
        this.unackedBytes = 0;
      }
    }
    if (fin) {
      this.remoteFinished = true;
      this.push(null);
      this.session.maybeForget(this);
    }
    return ok;
  }

  /** @internal */
  get fullyClosed(): boolean {
    return this.remoteFinished && this.localFinished;
  }
}

export interface SpdySessionEvents {
  stream: [SpdyStream];
  close: [];
}

export class SpdySession extends EventEmitter<SpdySessionEvents> {
  private readonly transport: Duplex;
  private readonly log: Logger;
  private readonly parser = new FrameParser();
  private readonly compressor = new HeaderCompressor();
  private readonly decompressor = new HeaderDecompressor();
  private readonly streams = new Map<number, SpdyStream>();
  /** Streams whose readable buffer is full; the socket stays paused while any exist. */
  private readonly blocked = new Set<SpdyStream>();
  private writeWaiters: (() => void)[] = [];
  private lastStreamId = 0;
  /** A header block is being inflated; the transport is paused until it is done. */
  private inflating = false;
  private sessionUnacked = 0;
  private closed = false;

  constructor(transport: Duplex, log: Logger) {
    super();
    this.transport = transport;
    this.log = log;
    transport.on('data', (chunk: Buffer) => this.onData(chunk));
    transport.on('drain', () => this.flushWaiters());
    transport.on('end', () => this.close());
    transport.on('close', () => this.close());
    transport.on('error', (e: Error) => {
      this.log.debug({ err: e }, 'spdy transport error');
      this.close();
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Number of streams still open. */
  get streamCount(): number {
    return this.streams.size;
  }

  /** Writes a raw frame; false when the transport buffer is full (wait with whenWritable). */
  sendFrame(frame: Buffer): boolean {
    if (this.closed || this.transport.destroyed || this.transport.writableEnded) return true;
    return this.transport.write(frame);
  }

  whenWritable(cb: (err?: Error | null) => void): void {
    if (this.closed) return cb(new Error('SPDY session closed'));
    this.writeWaiters.push(() => cb(this.closed ? new Error('SPDY session closed') : null));
  }

  encodeHeaders(headers: SpdyHeaders): Buffer {
    return this.compressor.compress(encodeHeaderBlock(headers));
  }

  ping(id: number): void {
    this.sendFrame(encodePing(id));
  }

  /** Graceful end: GOAWAY, then close the transport once written. */
  goAway(): void {
    if (this.closed) return;
    this.sendFrame(encodeGoAway(this.lastStreamId, 0));
    this.transport.end();
    this.close();
  }

  /** Tears down every stream and the transport. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of [...this.streams.values()]) s.destroy();
    this.streams.clear();
    this.blocked.clear();
    this.flushWaiters();
    this.decompressor.close();
    if (!this.transport.writableEnded) this.transport.end();
    // Give the final frames a moment to flush, then make sure the socket is gone.
    setTimeout(() => this.transport.destroy(), 2000).unref();
    this.emit('close');
  }

  /** @internal called by a stream when its consumer wants more. */
  streamDrained(s: SpdyStream): void {
    if (this.blocked.delete(s)) this.maybeResume();
  }

  /** @internal */
  maybeForget(s: SpdyStream): void {
    if (s.fullyClosed) this.forget(s);
  }

  /** @internal */
  forget(s: SpdyStream): void {
    this.streams.delete(s.id);
    this.streamDrained(s);
  }

  private flushWaiters(): void {
    const w = this.writeWaiters;
    this.writeWaiters = [];
    for (const f of w) f();
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.parser.append(chunk);
    // The transport is paused while we cannot take frames, so this holds one frame and one read;
    // a transport that ignores pause() must not make us buffer without bound.
    if (this.parser.buffered > MAX_PARSER_BUFFER) {
      return this.protocolError(new SpdyProtocolError(`${this.parser.buffered} bytes buffered while paused`));
    }
    this.drainFrames();
  }

  /**
   * Handles buffered frames strictly in order. Only header inflation is asynchronous: while one
   * is in flight the transport is paused and later frames stay unparsed in the parser, so a
   * peer cannot queue work behind a slow inflate.
   */
  private drainFrames(): void {
    while (!this.closed && !this.inflating) {
      let f: Frame | undefined;
      try {
        f = this.parser.next();
      } catch (e) {
        return this.protocolError(e);
      }
      if (!f) return;
      if (!hasHeaderBlock(f)) {
        this.safeHandle(f, undefined);
        continue;
      }
      const frame = f;
      this.inflating = true;
      this.transport.pause();
      this.decompressor.decompress(frame.headerBlock).then(
        (raw) => {
          this.inflating = false;
          if (this.closed) return;
          this.safeHandle(frame, raw);
          this.drainFrames();
          this.maybeResume();
        },
        (e: unknown) => {
          this.inflating = false;
          this.protocolError(e);
        },
      );
    }
  }

  /** Resumes reading once nothing holds it: no inflate in flight, no stream over its buffer. */
  private maybeResume(): void {
    if (!this.closed && !this.inflating && this.blocked.size === 0) this.transport.resume();
  }

  private safeHandle(f: Frame, rawHeaders: Buffer | undefined): void {
    try {
      this.handleFrame(f, rawHeaders);
    } catch (e) {
      this.protocolError(e);
    }
  }

  private protocolError(e: unknown): void {
    if (this.closed) return;
    this.log.warn({ err: e }, 'spdy protocol error; closing session');
    if (e instanceof SpdyProtocolError) this.sendFrame(encodeGoAway(this.lastStreamId, 1));
    this.close();
  }

  private handleFrame(f: Frame, rawHeaders: Buffer | undefined): void {
    if (this.log.isLevelEnabled('trace')) this.log.trace({ frame: f.type, streamId: 'streamId' in f ? f.streamId : undefined }, 'spdy frame');
    switch (f.type) {
      case 'data': {
        const s = this.streams.get(f.streamId);
        this.sessionUnacked += f.data.length;
        if (this.sessionUnacked >= WINDOW_UPDATE_THRESHOLD) {
          this.sendFrame(encodeWindowUpdate(0, this.sessionUnacked));
          this.sessionUnacked = 0;
        }
        if (!s) return; // late data for a stream we already dropped
        if (!s.receiveData(f.data, (f.flags & FLAG_FIN) !== 0) && !s.destroyed) {
          this.blocked.add(s);
          this.transport.pause();
        }
        return;
      }
      case 'syn_stream': {
        // Inflated even for refused streams: the zlib context spans the session.
        const headers = decodeHeaderBlock(rawHeaders ?? Buffer.alloc(0));
        if (f.streamId <= this.lastStreamId || f.streamId % 2 === 0) {
          this.sendFrame(encodeRstStream(f.streamId, RstStatus.PROTOCOL_ERROR));
          return;
        }
        this.lastStreamId = f.streamId;
        if (this.streams.size >= MAX_CONCURRENT_STREAMS) {
          this.sendFrame(encodeRstStream(f.streamId, RstStatus.REFUSED_STREAM));
          return;
        }
        const s = new SpdyStream(this, f.streamId, headers);
        this.streams.set(f.streamId, s);
        if ((f.flags & FLAG_FIN) !== 0) s.receiveData(Buffer.alloc(0), true);
        this.emit('stream', s);
        return;
      }
      case 'syn_reply':
      case 'headers':
        // We never open streams; their headers were inflated only to keep the zlib context in step.
        return;
      case 'rst_stream':
        this.streams.get(f.streamId)?.destroy();
        return;
      case 'ping':
        // We never ping, so every PING is the peer's: echo it.
        this.ping(f.id);
        return;
      case 'goaway':
        this.close();
        return;
      case 'settings':
      case 'window_update':
      case 'unknown':
        return;
    }
  }
}

function hasHeaderBlock(f: Frame): f is Extract<Frame, { headerBlock: Buffer }> {
  return f.type === 'syn_stream' || f.type === 'syn_reply' || f.type === 'headers';
}
