// Builds and runs e2e/streaming-client: client-go's own SPDY/WebSocket executors and
// port-forwarder, so protocol checks use the code kubectl, crictl and critest use.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export function buildGoClient(outDir: string): string {
  const out = join(outDir, 'streaming-client');
  execFileSync('go', ['build', '-o', out, '.'], { cwd: join(import.meta.dirname, '..', 'streaming-client'), stdio: 'inherit', env: { ...process.env, GOFLAGS: '-mod=mod' } });
  return out;
}

export interface RunResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs the client; input is written to its stdin, which stays open for keepStdinOpenMs afterwards. */
export function runClient(bin: string, args: string[], opts: { input?: string | Buffer; keepStdinOpenMs?: number; timeoutMs?: number } = {}): Promise<RunResult> & { child: ChildProcess } {
  const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let err = '';
  child.stdout!.on('data', (b: Buffer) => out.push(b));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  child.stdin!.on('error', () => undefined);
  if (opts.input !== undefined) child.stdin!.write(opts.input);
  setTimeout(() => child.stdin!.end(), opts.keepStdinOpenMs ?? 0);
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  const p = new Promise<RunResult>((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
  }) as Promise<RunResult> & { child: ChildProcess };
  p.child = child;
  return p;
}
