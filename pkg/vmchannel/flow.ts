// Per-stream credit windows on the agent channel (WINDOW frames). Without them a fast producer on one
// side (a chatty exec, a port-forward download) makes the other side buffer without bound whenever
// its consumer (the streaming client, a guest socket) is slower than the channel.
//   sender:   may have at most `window` DATA payload bytes unacknowledged per stream; the rest waits
//             in a queue and the producer is told to pause (write() returns false, 'drain' later).
//   receiver: acknowledges bytes once its consumer took them, in WINDOW frames of at least a quarter
//             window (fewer frames), or at once when the stream asks (pause()/resume()).
// Both windows are agreed in Hello; 0 means the peer predates flow control: no limits either way.
// A peer that breaks the agreement is caught on both counters: received() says when a DATA frame
// exceeds the credit the receiver granted (an overrun), canGrant() when a WINDOW frame returns more
// credit than the sender has bytes in flight (an overgrant, which would let the sender's socket buffer
// grow without bound). What to do about it is the caller's call: the host closes the whole channel
// (pkg/vmchannel/client.ts), because the protocol has no per-stream reset the guest must obey.

export { DEFAULT_WINDOW } from './protocol.js';

export function encodeWindow(credit: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(credit >>> 0, 0);
  return b;
}

export function decodeWindow(payload: Buffer): number {
  return payload.length >= 4 ? payload.readUInt32BE(0) : 0;
}

/** Send side of one stream: emits DATA while credit lasts, queues the rest. */
export class SendWindow {
  private credit: number;
  private readonly window: number;
  private readonly queue: { fd: number; bytes: Buffer }[] = [];
  private queued = 0;
  private drainWaiters: (() => void)[] = [];

  /** window 0 = unlimited (peer without flow control). */
  constructor(
    window: number,
    private readonly emit: (fd: number, bytes: Buffer) => void,
  ) {
    this.window = window > 0 ? window : Infinity;
    this.credit = this.window;
  }

  /** Whether a WINDOW frame of n bytes fits the bytes in flight (false: the peer grants what it never got). */
  canGrant(n: number): boolean {
    return this.credit + n <= this.window;
  }

  /** Bytes waiting for credit. */
  get backlog(): number {
    return this.queued;
  }

  /** Sends what the credit allows; false when some bytes had to wait (pause the producer until drain). */
  write(fd: number, bytes: Buffer): boolean {
    if (this.queue.length === 0 && bytes.length === 0) {
      this.emit(fd, bytes); // an empty DATA frame is a signal (attach stdin EOF), not payload
      return true;
    }
    if (this.queue.length === 0) {
      const n = Math.min(bytes.length, this.credit);
      if (n > 0) {
        this.credit -= n;
        this.emit(fd, n === bytes.length ? bytes : bytes.subarray(0, n));
      }
      if (n === bytes.length) return true;
      bytes = bytes.subarray(n);
    }
    this.queue.push({ fd, bytes });
    this.queued += bytes.length;
    return false;
  }

  private flushing = false;

  /** The peer consumed `n` bytes (a WINDOW frame). Re-entrant calls (from emit) only add credit. */
  grant(n: number): void {
    this.credit += n;
    if (this.flushing) return;
    this.flushing = true;
    try {
      this.flush();
    } finally {
      this.flushing = false;
    }
    if (this.queue.length === 0 && this.drainWaiters.length) {
      const w = this.drainWaiters;
      this.drainWaiters = [];
      for (const f of w) f();
    }
  }

  private flush(): void {
    while (this.queue.length && (this.credit > 0 || this.queue[0]!.bytes.length === 0)) {
      const head = this.queue[0]!;
      const k = Math.min(head.bytes.length, this.credit);
      this.credit -= k;
      this.queued -= k;
      this.emit(head.fd, head.bytes.subarray(0, k));
      if (k === head.bytes.length) this.queue.shift();
      else head.bytes = head.bytes.subarray(k);
    }
  }

  /** Calls f once the queue is empty (at once when it already is). */
  onDrain(f: () => void): void {
    if (this.queue.length === 0) f();
    else this.drainWaiters.push(f);
  }

  /** Drops queued bytes (stream closed); drain waiters are released. */
  discard(): void {
    this.queue.length = 0;
    this.queued = 0;
    this.grant(0);
  }
}

/** Receive side of one stream: counts consumed bytes and says when to send a WINDOW frame. */
export class RecvWindow {
  private unacked = 0;
  private held = 0;
  private paused = false;
  /** DATA bytes the peer may still send: the window, minus what arrived, plus what was acknowledged. */
  private peerCredit: number;

  /** window 0 = the peer sends without limits: never acknowledge. */
  constructor(
    private readonly window: number,
    private readonly sendCredit: (n: number) => void,
  ) {
    this.peerCredit = window > 0 ? window : Infinity;
  }

  /** n DATA bytes arrived; false when they exceed the credit the peer had (a window overrun). */
  received(n: number): boolean {
    if (n > this.peerCredit) return false;
    this.peerCredit -= n;
    return true;
  }

  /** DATA bytes the peer may still send before it must wait for a WINDOW frame. */
  get credit(): number {
    return this.peerCredit;
  }

  /** The consumer took n bytes (unless paused: then they are acknowledged on resume()). */
  consumed(n: number): void {
    if (this.window <= 0) return;
    if (this.paused) {
      this.held += n;
      return;
    }
    this.unacked += n;
    if (this.unacked >= this.window / 4) this.flush();
  }

  /** The consumer is full: stop acknowledging (the peer stops after one window). */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.unacked += this.held;
    this.held = 0;
    this.flush();
  }

  private flush(): void {
    if (this.unacked > 0) {
      const n = this.unacked;
      this.unacked = 0;
      this.peerCredit += n;
      this.sendCredit(n);
    }
  }
}
