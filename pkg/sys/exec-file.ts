// Runs a helper binary to completion and returns its output; the one place that spawns
// short-lived tools (runc, unshare...), so timeouts and error text are handled alike.
import { spawn } from 'node:child_process';

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Written to the command's stdin, then stdin is closed (no input: stdin is /dev/null). */
  input?: string;
  /** Kill (SIGKILL) after this many milliseconds. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  signal?: AbortSignal;
}

export function execFileResult(file: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    if (opts.input !== undefined) {
      // A tool that exits before reading its stdin (e.g. a failing CNI plugin) must not crash us with EPIPE.
      child.stdin!.on('error', () => {});
      child.stdin!.end(opts.input);
    }
  });
}

/** Like execFileResult but rejects with the tool's stderr when it exits non-zero. */
export async function execFileChecked(file: string, args: string[], opts: ExecOptions = {}): Promise<string> {
  const r = await execFileResult(file, args, opts);
  if (r.code !== 0) {
    const msg = (r.stderr || r.stdout).trim() || `exit ${r.code ?? r.signal}`;
    throw new Error(`${file} ${args[0] ?? ''}: ${msg}`);
  }
  return r.stdout;
}
