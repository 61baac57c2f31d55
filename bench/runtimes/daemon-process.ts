// Start/stop of one daemon process with its output in a log file, shared by both runtimes.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { CriClient } from '../cri-client.js';

export interface DaemonSpec {
  command: string;
  args: string[];
  logFile: string;
  socket: string;
  env?: NodeJS.ProcessEnv;
}

export class DaemonProcess {
  private child: ChildProcess | undefined;
  private exited = false;

  constructor(private readonly spec: DaemonSpec) {}

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  /** Spawns the daemon in its own process group and waits until its CRI socket answers Version. */
  async start(timeoutMs = 60_000): Promise<CriClient> {
    const fd = openSync(this.spec.logFile, 'a');
    this.child = spawn(this.spec.command, this.spec.args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: this.spec.env ?? process.env,
    });
    closeSync(fd);
    this.child.on('exit', () => (this.exited = true));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exited) throw new Error(`${this.spec.command} exited during start-up:\n${this.logTail()}`);
      if (existsSync(this.spec.socket)) {
        const client = new CriClient(this.spec.socket);
        try {
          await client.ready(2000);
          await client.runtime.Version({ version: 'v1' }, 2000);
          return client;
        } catch {
          client.close();
        }
      }
      await sleep(100);
    }
    throw new Error(`${this.spec.command} did not answer on ${this.spec.socket}:\n${this.logTail()}`);
  }

  /** SIGTERM to the daemon we started, SIGKILL after graceMs. */
  async stop(graceMs = 15_000): Promise<void> {
    const child = this.child;
    if (!child?.pid || this.exited) return;
    child.kill('SIGTERM');
    const deadline = Date.now() + graceMs;
    while (!this.exited && Date.now() < deadline) await sleep(50);
    if (!this.exited) child.kill('SIGKILL');
    while (!this.exited) await sleep(20);
  }

  logTail(lines = 30): string {
    try {
      return readFileSync(this.spec.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}
