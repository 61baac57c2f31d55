// Starts a container's init process under conmon (one conmon per container, as CRI-O does):
// conmon runs `runc create`, then stays behind as the container's parent, so the container
// outlives the daemon. conmon writes the CRI log (k8s-file), the exit code to
// <exitDir>/<id> (and <persistDir>/exit, <persistDir>/oom), serves the attach socket and the
// ctl FIFO. We learn the container pid (or runc's error) through conmon's sync pipe (fd 3).
import { spawnProcess } from '../../sys/spawn.js';
import { openSync, closeSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

export interface ConmonStartOptions {
  conmonPath: string;
  runtimePath: string;
  runtimeRoot: string;
  id: string;
  name: string;
  bundleDir: string;
  logPath: string;
  exitDir: string;
  /** conmon puts the attach socket at <socketDir>/<id>/attach. */
  socketDir: string;
  tty: boolean;
  stdin: boolean;
  stdinOnce: boolean;
  /** The cgroup driver's conmon flags (`--systemd-cgroup`: conmon passes it to `runc create`). */
  cgroupArgs?: readonly string[];
  timeoutMs?: number;
}

export interface ConmonStarted {
  pid: number;
  conmonPid: number;
}

export class ConmonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConmonError';
  }
}

export function conmonArgs(o: ConmonStartOptions): string[] {
  const args = [
    '--api-version', '1',
    '-c', o.id,
    '-u', o.id,
    '-n', o.name,
    '-r', o.runtimePath,
    '-b', o.bundleDir,
    '-p', join(o.bundleDir, 'pidfile'),
    '-P', join(o.bundleDir, 'conmon.pid'),
    '--persist-dir', o.bundleDir,
    '--exit-dir', o.exitDir,
    '--socket-dir-path', o.socketDir,
    '-l', `k8s-file:${o.logPath}`,
    '--log-level', 'error',
    '--runtime-arg', `--root=${o.runtimeRoot}`,
    '--runtime-arg', `--log=${join(o.bundleDir, 'runtime.log')}`,
    '--runtime-arg', '--log-format=json',
    ...(o.cgroupArgs ?? []),
  ];
  if (o.stdin) args.push('-i');
  if (o.tty) args.push('-t');
  else if (o.stdin && !o.stdinOnce) args.push('--leave-stdin-open');
  return args;
}

function readSyncMessage(stream: Readable, timeoutMs: number): Promise<{ data: number; message?: string }> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const done = (err?: Error, v?: { data: number; message?: string }) => {
      clearTimeout(timer);
      stream.removeAllListeners('data');
      stream.removeAllListeners('end');
      stream.destroy();
      if (err) reject(err);
      else resolve(v!);
    };
    const timer = setTimeout(() => done(new ConmonError(`conmon did not report the container pid within ${timeoutMs} ms`)), timeoutMs);
    stream.on('data', (b: Buffer) => {
      buf += b.toString();
      const nl = buf.indexOf('\n');
      const text = nl >= 0 ? buf.slice(0, nl) : buf;
      try {
        done(undefined, JSON.parse(text) as { data: number; message?: string });
      } catch {
        /* partial message */
      }
    });
    stream.on('end', () => done(new ConmonError(`conmon exited without reporting a pid${buf ? `: ${buf}` : ''}`)));
    stream.on('error', (e) => done(e));
  });
}

/** Launches conmon (which runs `runtime create`) and waits for the container pid. */
export async function startUnderConmon(o: ConmonStartOptions): Promise<ConmonStarted> {
  const errFile = join(o.bundleDir, 'conmon.stderr');
  writeFileSync(errFile, '');
  const errFd = openSync(errFile, 'a');
  let child;
  try {
    child = spawnProcess(o.conmonPath, conmonArgs(o), {
      stdio: ['ignore', errFd, errFd, 'pipe'],
      detached: true,
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', _OCI_SYNCPIPE: '3' },
    });
  } finally {
    closeSync(errFd);
  }
  child.unref();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.on('error', () => undefined);
  const sync = child.stdio[3] as Readable;
  const msg = await readSyncMessage(sync, o.timeoutMs ?? 60_000);
  await exited;
  if (msg.data < 0) throw new ConmonError(msg.message?.trim() || 'container create failed');
  const conmonPid = Number((await readFile(join(o.bundleDir, 'conmon.pid'), 'utf8')).trim());
  return { pid: msg.data, conmonPid };
}
