// The serial console of a pod VM, kept as a bounded ring on the state dir. QEMU appends the guest's
// console output (untrusted: a guest can print without end) to console.log; once that passes
// CONSOLE_LOG_MAX_BYTES the daemon copies its last CONSOLE_KEEP_BYTES to console.log.1 and truncates
// console.log (copy-truncate: QEMU holds console.log open with O_APPEND, so its next write goes to the
// new end). Readers only ever read a bounded tail of the two.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open, rename, stat, truncate, writeFile } from 'node:fs/promises';

/**
 * console.log is cut past 1 MiB: a boot with a verbose kernel prints ~50 KiB, so an honest guest never
 * reaches it, and the most the state dir holds per VM between two checks is 1 MiB + what the guest
 * prints in CONSOLE_CHECK_MS (the emulated UART moves a few MB/s at most).
 */
export const CONSOLE_LOG_MAX_BYTES = 1 << 20;
/** What survives a cut (console.log.1): the last 256 KiB, far more than any diagnostic tail reads. */
export const CONSOLE_KEEP_BYTES = 256 << 10;
/** How often the size is checked. */
export const CONSOLE_CHECK_MS = 2000;

/** Reads at most `bytes` from the end of the file (nothing when it does not exist). */
export function readFileTail(path: string, bytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const size = fstatSync(fd).size;
    const n = Math.max(0, Math.min(bytes, size));
    const buf = Buffer.alloc(n);
    const got = n > 0 ? readSync(fd, buf, 0, n, size - n) : 0;
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

export class ConsoleLog {
  private timer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(
    readonly path: string,
    private readonly onError: (err: Error) => void = () => undefined,
  ) {}

  get previousPath(): string {
    return `${this.path}.1`;
  }

  /** Starts the periodic size check (unref'd: it never keeps the daemon alive). */
  start(intervalMs = CONSOLE_CHECK_MS): void {
    this.timer ??= setInterval(() => void this.trim(), intervalMs).unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Cuts console.log when it passed maxBytes; resolves true when it did. */
  async trim(maxBytes = CONSOLE_LOG_MAX_BYTES, keepBytes = CONSOLE_KEEP_BYTES): Promise<boolean> {
    if (this.checking) return false;
    this.checking = true;
    try {
      const size = (await stat(this.path)).size;
      if (size <= maxBytes) return false;
      const keep = Math.min(keepBytes, size);
      const buf = Buffer.alloc(keep);
      const fh = await open(this.path, 'r');
      try {
        await fh.read(buf, 0, keep, size - keep);
      } finally {
        await fh.close();
      }
      const tmp = `${this.previousPath}.tmp`;
      await writeFile(tmp, buf);
      await rename(tmp, this.previousPath);
      // Whatever QEMU wrote between the read and here is lost: a few bytes of a console that was
      // flooding anyway.
      await truncate(this.path, 0);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.onError(e as Error);
      return false;
    } finally {
      this.checking = false;
    }
  }

  /** The last `bytes` bytes of the console (from console.log.1 too when console.log is shorter). */
  tail(bytes: number): string {
    const n = Math.max(0, Math.min(bytes, CONSOLE_KEEP_BYTES));
    const cur = readFileTail(this.path, n);
    if (cur.length >= n) return cur.toString('utf8');
    const prev = readFileTail(this.previousPath, n - cur.length);
    return Buffer.concat([prev, cur]).toString('utf8');
  }
}
