// Writes a container's stdout/stderr in the CRI log format kubelet reads:
//   <RFC3339Nano time> <stdout|stderr> <P|F> <line>
// A line without its newline yet is held until the newline comes (or the stream ends, then F).
// The file lives on the guest's tmpfs (guest RAM): it is bounded (GUEST_LOG_MAX_BYTES), its front
// dropped once shipped; offsets stay logical (bytes ever written), as FollowLogs counts them.
import { appendFileSync, closeSync, openSync, readFileSync, readSync, renameSync, writeFileSync } from 'node:fs';
import { EventEmitter } from 'node:events';

export function rfc3339Nano(d = new Date(), extraNs = 0): string {
  const iso = d.toISOString(); // 2026-11-23T07:15:47.123Z
  return `${iso.slice(0, 19)}.${iso.slice(20, 23)}${String(extraNs).padStart(6, '0')}Z`;
}

export function formatCriLines(stream: 'stdout' | 'stderr', text: string, complete: boolean, now = rfc3339Nano()): string {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((l, i) => `${now} ${stream} ${i === lines.length - 1 && !complete ? 'P' : 'F'} ${l}\n`).join('');
}

/**
 * Guest copy of one container log at most (tmpfs, i.e. guest RAM): the host's copy is the one
 * kubelet keeps and rotates. Past it the front is dropped down to 3/4 of it or less (so the copy a
 * trim costs is amortized over at least 2 MiB of new log).
 */
export const GUEST_LOG_MAX_BYTES = 8 << 20;
/**
 * Kept behind the furthest offset a host was sent, when the cap allows: a restarted daemon resumes
 * from its own file's end, at most ~1.3 MiB behind what it was sent (log-shipper.ts: 1 MiB queue +
 * one 256 KiB window + one 64 KiB chunk).
 */
export const GUEST_LOG_RESUME_MARGIN = 2 << 20;

export class CriLogWriter extends EventEmitter<{ append: [Buffer]; drained: [] }> {
  private partial: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
  /** Bytes ever written (logical end offset). */
  private size = 0;
  /** Logical offset of the file's first byte (what trims dropped before it). */
  private start = 0;
  /** Furthest logical offset sent to a host. */
  private shipped = 0;
  /** Hosts following the log now (FollowLogs streams). */
  private followers = 0;
  private held = false;

  constructor(
    readonly path: string,
    private readonly maxBytes = GUEST_LOG_MAX_BYTES,
    private readonly margin = GUEST_LOG_RESUME_MARGIN,
  ) {
    super();
  }

  /** Logical end offset: bytes ever written. */
  get bytes(): number {
    return this.size;
  }

  /** Logical offset of the oldest byte still in the file. */
  get firstOffset(): number {
    return this.start;
  }

  /** Bytes the file holds now. */
  get fileBytes(): number {
    return this.size - this.start;
  }

  /** A host was sent everything before offset. */
  markShipped(offset: number): void {
    this.shipped = Math.max(this.shipped, offset);
    this.releaseIfDrained();
  }

  /** A FollowLogs stream starts (true) or ends (false). */
  follow(on: boolean): void {
    this.followers = Math.max(0, this.followers + (on ? 1 : -1));
    this.releaseIfDrained();
  }

  /**
   * Whether the container's output should wait (its pipe paused): a host follows but lags half the
   * cap behind. The container then blocks on write, as under conmon on a slow disk, instead of the
   * trim dropping lines the host never got. No host following (daemon down or restarting): never
   * held, the oldest lines go instead (a container must not hang on its log while no one reads it).
   */
  get shouldHold(): boolean {
    if (!this.held && this.followers > 0 && this.size - this.shipped > this.maxBytes / 2) this.held = true;
    return this.held;
  }

  private releaseIfDrained(): void {
    // Hysteresis: resume at a quarter of the cap behind, not at every chunk sent.
    if (this.held && (this.followers === 0 || this.size - this.shipped <= this.maxBytes / 4)) {
      this.held = false;
      this.emit('drained');
    }
  }

  /** Reads into buf from a logical offset (at least firstOffset); returns the bytes read. */
  read(offset: number, buf: Buffer): number {
    if (offset < this.start) throw new RangeError(`log offset ${offset} was dropped (file starts at ${this.start})`);
    const fd = openSync(this.path, 'r');
    try {
      return readSync(fd, buf, 0, Math.min(buf.length, this.size - offset), offset - this.start);
    } finally {
      closeSync(fd);
    }
  }

  write(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    const text = this.partial[stream] + chunk.toString('utf8');
    const cut = text.lastIndexOf('\n');
    if (cut < 0) {
      this.partial[stream] = text;
      // Very long lines without a newline are flushed as partial records.
      if (text.length >= 16384) {
        this.partial[stream] = '';
        this.append(formatCriLines(stream, text, false));
      }
      return;
    }
    this.partial[stream] = text.slice(cut + 1);
    this.append(formatCriLines(stream, text.slice(0, cut + 1), true));
  }

  /**
   * Stream ended: whatever is held is written as a partial (P) record, as conmon writes output that
   * never got its newline. kubelet appends a newline to F records only, so `echo -n DONE` reads back
   * as "DONE" (termination message from the log, kubectl logs), not "DONE\n".
   */
  flush(): void {
    for (const s of ['stdout', 'stderr'] as const) {
      if (this.partial[s]) this.append(formatCriLines(s, this.partial[s], false));
      this.partial[s] = '';
    }
  }

  private append(text: string): void {
    const b = Buffer.from(text, 'utf8');
    appendFileSync(this.path, b);
    this.size += b.length;
    if (this.size - this.start > this.maxBytes) this.trim();
    this.emit('append', b);
  }

  /**
   * Drops the file's front: down to half the cap when the host has everything but the resume margin,
   * never keeping more than 3/4 of the cap (a host that lags that far loses the oldest lines rather
   * than the guest its memory). The tail is copied to a new file renamed over the old one: readers
   * open the file per read, by path.
   */
  private trim(): void {
    const mustDrop = this.size - Math.floor((this.maxBytes * 3) / 4);
    const wouldDrop = Math.min(this.size - Math.floor(this.maxBytes / 2), this.shipped - this.margin);
    const want = Math.max(mustDrop, wouldDrop, this.start);
    if (want <= this.start) return;
    const file = readFileSync(this.path);
    // Cut after a record's newline: a host resuming at the new start must read whole CRI lines.
    const nl = file.indexOf(0x0a, want - this.start - 1);
    const cut = nl < 0 ? file.length : nl + 1;
    writeFileSync(`${this.path}.trim`, file.subarray(cut));
    renameSync(`${this.path}.trim`, this.path);
    this.start += cut;
  }
}
