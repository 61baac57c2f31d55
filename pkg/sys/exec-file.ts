// Runs a helper binary to completion and returns its output; the one place that spawns
// short-lived tools (runc, unshare, CNI plugins...), so timeouts and error text are handled alike.
// Started with posix_spawn (spawn.ts): no fork of the daemon per tool.
import { spawnProcess } from './spawn.js';

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
    if (opts.signal?.aborted) return reject(abortError(opts.signal));
    const child = spawnProcess(file, args, {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    const onAbort = (): void => {
      child.kill('SIGTERM'); // what child_process does for its `signal` option
      reject(abortError(opts.signal!));
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', (e: Error) => {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(e);
    });
    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    if (opts.input !== undefined) {
      // A tool that exits before reading its stdin (e.g. a failing CNI plugin) must not crash us with EPIPE.
      child.stdin!.on('error', () => {});
      child.stdin!.end(opts.input);
    }
  });
}

function abortError(signal: AbortSignal): Error {
  return Object.assign(new Error('The operation was aborted', { cause: signal.reason as unknown }), { name: 'AbortError', code: 'ABORT_ERR' });
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
