// Thin wrapper over an OCI runtime CLI (runc; crun takes the same arguments). Each handler
// gets its own --root so two handlers never see each other's containers. Errors carry the
// runtime's own message (runc prints `level=error msg="..."` on stderr).
import { spawnProcess } from '../../sys/spawn.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileResult, type ExecResult } from '../../sys/exec-file.js';
import { OciRuntimeError } from './runtime-failure.js';

export interface RuntimeState {
  id: string;
  pid: number;
  status: 'creating' | 'created' | 'running' | 'stopped' | 'paused' | string;
  bundle: string;
  created: string;
}

export { OciRuntimeError };

/** Extracts the human message from runc/crun stderr (logrus text or JSON lines). */
export function runtimeErrorMessage(stderr: string): string {
  const lines = stderr.trim().split('\n').filter(Boolean);
  const msgs: string[] = [];
  for (const line of lines) {
    const m = /msg="((?:[^"\\]|\\.)*)"/.exec(line);
    if (m) {
      msgs.push(m[1]!.replace(/\\"/g, '"').replace(/\\\\/g, '\\'));
      continue;
    }
    try {
      const j = JSON.parse(line) as { msg?: string };
      if (j.msg) {
        msgs.push(j.msg);
        continue;
      }
    } catch {
      /* plain text */
    }
    msgs.push(line);
  }
  return msgs.join('; ');
}

export class OciRuntimeCli {
  constructor(
    readonly path: string,
    readonly root: string,
    /** Global flags of every call: the cgroup driver's (`--systemd-cgroup`). */
    readonly globalArgs: readonly string[] = [],
  ) {}

  private async run(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
    return execFileResult(this.path, ['--root', this.root, ...this.globalArgs, ...args], opts);
  }

  private async checked(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.run(args, opts);
    if (r.code !== 0) {
      const msg = runtimeErrorMessage(r.stderr || r.stdout) || `exit ${r.code ?? r.signal}`;
      throw new OciRuntimeError(`${args[0]}: ${msg}`);
    }
    return r.stdout;
  }

  async state(id: string): Promise<RuntimeState | undefined> {
    try {
      return JSON.parse(await this.checked(['state', id])) as RuntimeState;
    } catch (e) {
      if (e instanceof OciRuntimeError && e.notFound) return undefined;
      throw e;
    }
  }

  async create(id: string, bundle: string, pidFile: string): Promise<void> {
    await this.checked(['create', '--bundle', bundle, '--pid-file', pidFile, id], { timeoutMs: 60_000 });
  }

  /** `run --detach`: create and start in one call; the process is re-parented once runc exits. */
  async runDetached(id: string, bundle: string, pidFile: string): Promise<void> {
    // The container inherits runc's stdio: give it /dev/null (a pipe would never close) and read
    // runc's errors from its JSON log instead.
    const logFile = join(bundle, 'runtime.log');
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawnProcess(this.path, ['--root', this.root, ...this.globalArgs, '--log', logFile, '--log-format', 'json', 'run', '--detach', '--bundle', bundle, '--pid-file', pidFile, id], { stdio: ['ignore', 'ignore', 'ignore'] });
      child.on('error', reject);
      child.on('exit', (c) => resolve(c));
    });
    if (code !== 0) {
      const text = await readFile(logFile, 'utf8').catch(() => ''); // no log written: the message falls back to runc's stderr
      const errs = text.split('\n').filter((l) => l.includes('"error"')).join('\n');
      const msg = runtimeErrorMessage(errs) || `exit ${code}`;
      throw new OciRuntimeError(`run: ${msg}`, 'other');
    }
  }

  async start(id: string): Promise<void> {
    await this.checked(['start', id], { timeoutMs: 60_000 });
  }

  /** Sends a signal; a container that is already gone is not an error. */
  async kill(id: string, signal: string | number, all = false): Promise<void> {
    try {
      await this.checked(['kill', ...(all ? ['--all'] : []), id, String(signal)]);
    } catch (e) {
      if (e instanceof OciRuntimeError && (e.failure === 'not-found' || e.failure === 'not-running')) return;
      throw e;
    }
  }

  /** Deletes the runtime state; missing containers are fine. */
  async delete(id: string, force = true): Promise<void> {
    try {
      await this.checked(['delete', ...(force ? ['--force'] : []), id], { timeoutMs: 60_000 });
    } catch (e) {
      if (e instanceof OciRuntimeError && e.notFound) return;
      throw e;
    }
  }

  /** `update --resources -` with an OCI LinuxResources JSON. */
  async update(id: string, resources: unknown): Promise<void> {
    await this.checked(['update', '--resources', '-', id], { input: JSON.stringify(resources) });
  }

  /** argv for `exec --process <file>`; the caller spawns it to stream/capture output. */
  execArgs(id: string, processFile: string, pidFile: string, opts: { tty?: boolean; detach?: boolean } = {}): string[] {
    return [
      '--root',
      this.root,
      ...this.globalArgs,
      'exec',
      '--process',
      processFile,
      '--pid-file',
      pidFile,
      ...(opts.tty ? ['--tty'] : []),
      ...(opts.detach ? ['--detach'] : []),
      id,
    ];
  }
}
