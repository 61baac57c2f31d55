// Watches conmon's exit directory (<state>/exits/<containerId> appears when a container's init
// exits) so exits are noticed promptly without polling runc; waitExit() also polls the file as a
// fallback because inotify events can be coalesced.
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface ExitInfo {
  exitCode: number;
  /** ms since epoch, from the exit file's mtime */
  finishedAtMs: number;
}

export class ExitWatcher {
  private watcher?: FSWatcher;
  private readonly listeners: ((id: string) => void)[] = [];
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(readonly dir: string) {}

  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    this.watcher = watch(this.dir, (_event, name) => {
      if (!name || name.startsWith('.')) return;
      const id = name.toString();
      for (const w of this.waiters.get(id) ?? []) w();
      for (const l of this.listeners) l(id);
    });
    this.watcher.on('error', () => undefined);
  }

  onExit(l: (id: string) => void): void {
    this.listeners.push(l);
  }

  async read(id: string): Promise<ExitInfo | undefined> {
    const file = join(this.dir, id);
    try {
      const [text, st] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
      if (!text.trim()) return undefined; // being written
      const code = Number.parseInt(text.trim(), 10);
      return { exitCode: Number.isFinite(code) ? code : -1, finishedAtMs: st.mtimeMs };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** Resolves with the exit info, or undefined after timeoutMs. */
  async waitExit(id: string, timeoutMs: number): Promise<ExitInfo | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = await this.read(id);
      if (info) return info;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const set = this.waiters.get(id) ?? new Set();
        this.waiters.set(id, set);
        const wake = () => {
          clearTimeout(t);
          set.delete(wake);
          if (set.size === 0) this.waiters.delete(id);
          resolve();
        };
        const t = setTimeout(wake, Math.min(left, 100));
        set.add(wake);
      });
    }
  }

  close(): void {
    this.watcher?.close();
  }
}
