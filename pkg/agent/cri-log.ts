// Writes a container's stdout/stderr in the CRI log format kubelet reads:
//   <RFC3339Nano time> <stdout|stderr> <P|F> <line>
// A line without its newline yet is held until the newline comes (or the stream ends, then F).
import { appendFileSync } from 'node:fs';
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

export class CriLogWriter extends EventEmitter<{ append: [Buffer] }> {
  private partial: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
  private size = 0;

  constructor(readonly path: string) {
    super();
  }

  get bytes(): number {
    return this.size;
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

  /** Stream ended: whatever is held becomes a final (F) record. */
  flush(): void {
    for (const s of ['stdout', 'stderr'] as const) {
      if (this.partial[s]) this.append(formatCriLines(s, this.partial[s], true));
      this.partial[s] = '';
    }
  }

  private append(text: string): void {
    const b = Buffer.from(text, 'utf8');
    appendFileSync(this.path, b);
    this.size += b.length;
    this.emit('append', b);
  }
}
