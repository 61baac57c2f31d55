// The guest end of the virtio-serial channel. A read of 0 bytes means "no host connected" (virtio-serial
// returns EOF repeatedly while the host side is closed, and data again once a host reconnects), so the
// fd is kept and polled: a restarted daemon reattaches to a running VM.
import { EventEmitter } from 'node:events';
import { open, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export interface PortEvents {
  data: [Buffer];
  /** The host went away (first EOF); a partial frame must be dropped. */
  hostGone: [];
}

export class SerialPort extends EventEmitter<PortEvents> {
  private fh: FileHandle | null = null;
  private writing: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    readonly path: string,
    private readonly pollMs = 100,
  ) {
    super();
  }

  async start(): Promise<void> {
    this.fh = await open(this.path, 'r+');
    void this.readLoop();
  }

  /** Writes are serialised so frames never interleave. While no host is connected the kernel keeps them. */
  write(buf: Buffer): Promise<void> {
    const fh = this.fh;
    if (!fh) return Promise.reject(new Error('port not open'));
    this.writing = this.writing.then(async () => {
      let off = 0;
      while (off < buf.length) {
        const { bytesWritten } = await fh.write(buf, off, buf.length - off);
        off += bytesWritten;
      }
    });
    return this.writing;
  }

  stop(): void {
    this.stopped = true;
  }

  private async readLoop(): Promise<void> {
    const buf = Buffer.allocUnsafe(256 << 10);
    let connected = true;
    while (!this.stopped && this.fh) {
      let n = 0;
      try {
        ({ bytesRead: n } = await this.fh.read(buf, 0, buf.length, null));
      } catch {
        n = 0;
      }
      if (n === 0) {
        if (connected) {
          connected = false;
          this.emit('hostGone');
        }
        await sleep(this.pollMs);
        continue;
      }
      connected = true;
      this.emit('data', Buffer.from(buf.subarray(0, n)));
    }
  }
}
