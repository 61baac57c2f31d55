// Minimal QMP client (JSON lines over the VM's unix socket): greeting + qmp_capabilities, commands
// with ids, asynchronous events (SHUTDOWN, STOP...), and 'close' when QEMU goes away.
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

export class QmpError extends Error {}

interface QmpReply {
  id?: number;
  return?: unknown;
  error?: { class: string; desc: string };
  event?: string;
  QMP?: unknown;
}

export class QmpClient extends EventEmitter<{ event: [QmpEvent]; close: [] }> {
  private sock: Socket | null = null;
  private buf = '';
  private seq = 0;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private greeted: (() => void) | null = null;
  closed = false;

  /** Connects (retrying until QEMU has created the socket) and negotiates capabilities. */
  static async connect(path: string, timeoutMs: number): Promise<QmpClient> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const c = new QmpClient();
      try {
        await c.open(path, Math.max(100, deadline - Date.now()));
        await c.execute('qmp_capabilities');
        return c;
      } catch (e) {
        c.close();
        if (Date.now() > deadline) throw new QmpError(`QMP ${path}: ${(e as Error).message}`);
        await sleep(20);
      }
    }
  }

  private open(path: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = connect(path);
      this.sock = s;
      const timer = setTimeout(() => reject(new QmpError('no QMP greeting')), timeoutMs);
      this.greeted = () => {
        clearTimeout(timer);
        resolve();
      };
      s.setEncoding('utf8');
      s.on('data', (d: string) => this.onData(d));
      s.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      s.on('close', () => {
        clearTimeout(timer);
        this.closed = true;
        for (const w of this.waiting.values()) w.reject(new QmpError('QMP connection closed'));
        this.waiting.clear();
        this.emit('close');
      });
    });
  }

  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    const s = this.sock;
    if (!s || this.closed) return Promise.reject(new QmpError('QMP not connected'));
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      s.write(JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id }) + '\n');
    });
  }

  async queryStatus(): Promise<{ running: boolean; status: string }> {
    return (await this.execute('query-status')) as { running: boolean; status: string };
  }

  close(): void {
    this.sock?.destroy();
  }

  private onData(d: string): void {
    this.buf += d;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (!line) continue;
      let msg: QmpReply;
      try {
        msg = JSON.parse(line) as QmpReply;
      } catch {
        continue;
      }
      if (msg.QMP !== undefined) {
        this.greeted?.();
        this.greeted = null;
      } else if (msg.event) {
        this.emit('event', msg as QmpEvent);
      } else if (typeof msg.id === 'number') {
        const w = this.waiting.get(msg.id);
        this.waiting.delete(msg.id);
        if (!w) continue;
        if (msg.error) w.reject(new QmpError(`${msg.error.class}: ${msg.error.desc}`));
        else w.resolve(msg.return);
      }
    }
  }
}
