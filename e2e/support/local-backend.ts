// A StreamingBackend that runs commands on the host (sh -c) and dials host ports: lets the
// protocol tests drive the real client-go code without containers. exec only; attach is the
// same process model (stdin/stdout) with exitCode dropped.
import { spawn } from 'node:child_process';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { ProcessStdio, StdioOptions, StreamingBackend } from '../../pkg/streaming/backend.js';

export class LocalBackend implements StreamingBackend {
  readonly resizes: { width: number; height: number }[] = [];
  readonly killed: number[] = [];

  async exec(_id: string, cmd: string[], opts: StdioOptions): Promise<ProcessStdio> {
    const child = spawn(cmd[0]!, cmd.slice(1), { stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const exited = new Promise<{ exitCode: number }>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, sig) => resolve({ exitCode: code ?? 128 + (sig ? 9 : 0) }));
    });
    return {
      stdin: child.stdin ?? undefined,
      stdout: child.stdout ?? undefined,
      stderr: opts.tty ? undefined : (child.stderr ?? undefined),
      resize: (width, height) => this.resizes.push({ width, height }),
      wait: () => exited,
      kill: () => {
        if (child.pid) this.killed.push(child.pid);
        child.kill('SIGKILL');
      },
    };
  }

  async attach(id: string, opts: StdioOptions): Promise<ProcessStdio> {
    const p = await this.exec(id, ['cat'], opts);
    return { ...p, wait: async () => (await p.wait(), {}) };
  }

  portForward(_pod: string, port: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  }
}
