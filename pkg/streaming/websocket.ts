// WebSocket channel framing (kubelet's wsstream): every message starts with a channel byte
// (ASCII '0'+n and base64 payload for the base64 protocols); v5 adds the close signal
// [255, channel] for half-closing a channel. Exec/attach use channels stdin 0, stdout 1,
// stderr 2, error 3, resize 4. The socket itself is the `ws` library's.
import { Readable, Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import { encodeStatus, PROTOCOL_V1, PROTOCOL_V4, PROTOCOL_V5, type CommandChannels, type K8sStatus } from './remotecommand.js';
import type { StdioOptions } from './backend.js';

export const STREAM_CLOSE_SIGNAL = 255;

/**
 * Largest WebSocket message we accept (ws's maxPayload; ws buffers a message whole before
 * handing it out, so this is also the per-connection receive buffer). Go clients (client-go's
 * exec/attach/port-forward, kubectl, crictl, and the SPDY-over-WebSocket tunnel) write at most
 * one 32 KiB io.Copy buffer per message, 43 KiB once base64-encoded; 1 MiB is 24× that.
 * 16 MiB let each connection make us hold 16 MiB before any back-pressure applied.
 */
export const WS_MAX_PAYLOAD = 1024 * 1024;
/** Per-channel buffer before we pause the socket (the stdin/port-forward consumer is slow). */
const CHANNEL_HIGH_WATER = 256 * 1024;
/**
 * What a channel may hold past its high-water mark: after ws.pause() the receiver still hands
 * out the messages already read, at most one 64 KiB socket read plus one whole message.
 * More means the peer is not being held back, and the connection is closed instead.
 */
const MAX_CHANNEL_BACKLOG = CHANNEL_HIGH_WATER + WS_MAX_PAYLOAD + 64 * 1024;
export const BASE64_V1 = 'base64.channel.k8s.io';
export const BASE64_V4 = 'v4.base64.channel.k8s.io';
/** Subprotocols we accept for exec/attach (kubelet's list). */
export const WS_REMOTECOMMAND_PROTOCOLS = [PROTOCOL_V5, PROTOCOL_V4, BASE64_V4, PROTOCOL_V1, BASE64_V1];

export const enum Channel {
  Stdin = 0,
  Stdout = 1,
  Stderr = 2,
  Error = 3,
  Resize = 4,
}

/** Encodes one outgoing message. */
export function encodeChannelMessage(channel: number, data: Buffer, base64: boolean): Buffer | string {
  if (base64) return String.fromCharCode(48 + channel) + data.toString('base64');
  const out = Buffer.allocUnsafe(data.length + 1);
  out[0] = channel;
  data.copy(out, 1);
  return out;
}

export type DecodedMessage = { kind: 'data'; channel: number; data: Buffer } | { kind: 'close'; channel: number } | { kind: 'invalid' };

/** Decodes one incoming message. */
export function decodeChannelMessage(msg: Buffer, base64: boolean, supportsClose: boolean): DecodedMessage | undefined {
  if (msg.length === 0) return undefined;
  if (supportsClose && msg[0] === STREAM_CLOSE_SIGNAL) {
    return msg.length === 2 ? { kind: 'close', channel: msg[1]! } : { kind: 'invalid' };
  }
  if (base64) return { kind: 'data', channel: msg[0]! - 48, data: Buffer.from(msg.subarray(1).toString('latin1'), 'base64') };
  return { kind: 'data', channel: msg[0]!, data: msg.subarray(1) };
}

/** Demultiplexes one WebSocket into per-channel Node streams, with back-pressure both ways. */
export class ChannelMux {
  private readonly readers = new Map<number, Readable>();
  private readonly blocked = new Set<number>();
  /**
   * Channels the peer closed (v5 [255, ch]). Tracked here because readableEnded only turns true
   * once 'end' is emitted, after the buffer drains: a data message in between would otherwise
   * be pushed after EOF, an 'error' on a stream nobody listens to, i.e. an uncaught exception.
   */
  private readonly remoteClosed = new Set<number>();
  readonly base64: boolean;
  readonly supportsClose: boolean;

  constructor(
    readonly ws: WebSocket,
    readonly protocol: string,
  ) {
    this.base64 = protocol.includes('base64');
    this.supportsClose = protocol === PROTOCOL_V5;
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => this.onMessage(toBuffer(data)));
    ws.on('close', () => {
      for (const r of this.readers.values()) if (!r.readableEnded) r.destroy();
    });
    ws.on('error', () => undefined);
  }

  reader(channel: number): Readable {
    const r = new Readable({
      highWaterMark: CHANNEL_HIGH_WATER,
      read: () => this.unblock(channel),
    });
    // An ended Readable never calls read() again: release a channel blocked before its close.
    r.once('end', () => this.unblock(channel));
    this.readers.set(channel, r);
    return r;
  }

  writer(channel: number): Writable {
    const w = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        if (this.ws.readyState !== this.ws.OPEN) return cb(new Error('websocket closed'));
        // The send callback fires once ws handed the frame to the socket: that is our back-pressure.
        this.ws.send(encodeChannelMessage(channel, chunk, this.base64), { binary: !this.base64 }, (err) => cb(err ?? null));
      },
    });
    // A write after the client went away (EPIPE, "websocket closed") is the expected end of a
    // session, handled through the socket's 'close'; unheard, the 'error' would be uncaught and
    // take the daemon down (the fuzzer found it through port-forward's prefix writes).
    w.on('error', () => undefined);
    return w;
  }

  /** Sends one message immediately (e.g. the empty "connected" notification). */
  send(channel: number, data: Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState !== this.ws.OPEN) return resolve();
      this.ws.send(encodeChannelMessage(channel, data, this.base64), { binary: !this.base64 }, () => resolve());
    });
  }

  private unblock(channel: number): void {
    if (this.blocked.delete(channel) && this.blocked.size === 0) this.ws.resume();
  }

  private onMessage(msg: Buffer): void {
    const m = decodeChannelMessage(msg, this.base64, this.supportsClose);
    if (!m) return;
    if (m.kind === 'invalid') {
      this.ws.close(1002, 'invalid stream close signal');
      return;
    }
    const r = this.readers.get(m.channel);
    if (!r || r.readableEnded || r.destroyed || this.remoteClosed.has(m.channel)) return;
    if (m.kind === 'close') {
      this.remoteClosed.add(m.channel);
      r.push(null);
      return;
    }
    if (!r.push(m.data)) {
      if (r.readableLength > MAX_CHANNEL_BACKLOG) {
        this.ws.close(1008, 'channel backlog exceeded');
        r.destroy();
        return;
      }
      this.blocked.add(m.channel);
      this.ws.pause();
    }
  }
}

function toBuffer(d: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Buffer.isBuffer(d)) return d;
  if (Array.isArray(d)) return Buffer.concat(d);
  return Buffer.from(d);
}

/** Exec/attach channels over a WebSocket. */
export async function wsCommandChannels(ws: WebSocket, protocol: string, opts: StdioOptions): Promise<CommandChannels> {
  const mux = new ChannelMux(ws, protocol);
  const stdout = opts.stdout ? mux.writer(Channel.Stdout) : undefined;
  const stderr = opts.stderr && !opts.tty ? mux.writer(Channel.Stderr) : undefined;
  const error = mux.writer(Channel.Error);
  let finished = false;
  const gone = new Promise<void>((resolve) => ws.once('close', () => (finished ? undefined : resolve())));
  const ch: CommandChannels = {
    protocol,
    stdin: opts.stdin ? mux.reader(Channel.Stdin) : undefined,
    stdout,
    stderr,
    resize: opts.tty ? mux.reader(Channel.Resize) : undefined,
    gone,
    async finish(status: K8sStatus): Promise<void> {
      if (finished) return;
      finished = true;
      // Statuses are versioned by the channel protocol: v4/v5 JSON, older plain text.
      const msg = encodeStatus(protocol.replace('base64.', ''), status);
      // kubelet's order: the status, then the close (output written before it is already queued).
      if (msg) await new Promise<void>((r) => error.write(msg, () => r()));
      await Promise.all([stdout, stderr].map((w) => (w ? endWritable(w) : undefined)));
      if (ws.readyState === ws.OPEN) ws.close(1000);
    },
  };
  // kubelet tells the client the connection is up with an empty message on the lowest writable channel.
  await mux.send(opts.stdout ? Channel.Stdout : opts.stderr ? Channel.Stderr : Channel.Error, Buffer.alloc(0));
  return ch;
}

function endWritable(w: Writable): Promise<void> {
  return new Promise((resolve) => {
    w.once('error', () => resolve());
    w.end(() => resolve());
  });
}
