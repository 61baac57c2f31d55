// Appends the CRI log bytes a guest ships for one container (FollowLogs DATA) to the kubelet's log file
// on the host, off the event loop: chunks queue in memory and one async append at a time writes them
// all. The queue is bounded by back-pressure, not by dropping: past LOG_QUEUE_HIGH_WATER the stream is
// paused (the host stops returning window credit), so the guest stops after at most one window
// (DEFAULT_WINDOW, 256 KiB) and waits in the guest, where the log lives on disk anyway.

/**
 * Queued bytes at which the guest is told to wait. 1 MiB is four windows: a disk that keeps up never
 * pauses the guest (each append takes well under the time the channel needs to bring 1 MiB), while
 * the worst case held per container stays 1 MiB + one window + one 64 KiB chunk.
 */
export const LOG_QUEUE_HIGH_WATER = 1 << 20;
/** The guest may send again once the queue is back under this (hysteresis: no pause/resume per chunk). */
export const LOG_QUEUE_LOW_WATER = LOG_QUEUE_HIGH_WATER / 4;

/** The flow control of the stream the bytes arrive on (OpenStream.pause/resume). */
export interface LogFlow {
  pause(): void;
  resume(): void;
}

export interface LogShipperOptions {
  /** Appends bytes to the log file (by path each time, so a reopened (rotated) log gets the next write). */
  append(bytes: Buffer): Promise<void>;
  /** n bytes reached the file. */
  onWritten(n: number): void;
  /** An append failed: those bytes are dropped (the next ones are tried again). */
  onError(err: Error, droppedBytes: number): void;
}

export class LogShipper {
  private queue: Buffer[] = [];
  private queued = 0;
  private writing = false;
  private paused = false;
  private flow: LogFlow | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: LogShipperOptions) {}

  /** The stream to pause when the queue is full (set once the stream is open). */
  setFlow(flow: LogFlow): void {
    this.flow = flow;
    if (this.paused) flow.pause();
  }

  /** Bytes waiting to be written. */
  get backlog(): number {
    return this.queued;
  }

  push(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.queue.push(bytes);
    this.queued += bytes.length;
    if (!this.paused && this.queued >= LOG_QUEUE_HIGH_WATER) {
      this.paused = true;
      this.flow?.pause();
    }
    if (!this.writing) void this.drain();
  }

  /** Resolves once everything pushed so far was written (or dropped on error). */
  idle(): Promise<void> {
    if (!this.writing && this.queued === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private async drain(): Promise<void> {
    this.writing = true;
    while (this.queue.length) {
      const batch = this.queue.length === 1 ? this.queue[0]! : Buffer.concat(this.queue);
      this.queue = [];
      try {
        await this.opts.append(batch);
        this.opts.onWritten(batch.length);
      } catch (e) {
        this.opts.onError(e as Error, batch.length);
      }
      this.queued -= batch.length;
      if (this.paused && this.queued <= LOG_QUEUE_LOW_WATER) {
        this.paused = false;
        this.flow?.resume();
      }
    }
    this.writing = false;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }
}
