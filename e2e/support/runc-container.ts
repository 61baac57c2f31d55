// Test fixture: a busybox-static container run by conmon + runc in a temp dir, inside a
// network namespace of its own (ip netns), without the daemon. Lets the streaming backend be
// tested against the real runtime pieces. Everything is created under unique names and
// removed by cleanup().
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, copyFileSync, symlinkSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { OciStreamTarget } from '../../pkg/runtime/oci/oci-streams.js';

/** conmon wants an absolute runtime path. */
const RUNC = execFileSync('sh', ['-c', 'command -v runc']).toString().trim();

const APPLETS = ['sh', 'cat', 'echo', 'head', 'sleep', 'tr', 'stty', 'nc', 'sha256sum', 'ls', 'wc', 'true', 'false', 'env', 'ps', 'kill', 'tty', 'seq', 'yes', 'dd'];

export interface Netns {
  name: string;
  path: string;
}

export function createNetns(): Netns {
  const name = `bh-stream-${randomBytes(4).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', name]);
  execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return { name, path: `/run/netns/${name}` };
}

export function deleteNetns(n: Netns): void {
  try {
    execFileSync('ip', ['netns', 'delete', n.name], { stdio: 'ignore' });
  } catch {
    /* gone */
  }
}

/** A busybox rootfs (shared by the containers of one test file). */
export function makeRootfs(dir: string): string {
  const rootfs = join(dir, 'rootfs');
  for (const d of ['bin', 'proc', 'dev', 'sys', 'tmp', 'etc']) mkdirSync(join(rootfs, d), { recursive: true });
  copyFileSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
  for (const a of APPLETS) symlinkSync('busybox', join(rootfs, 'bin', a));
  writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/:/bin/sh\n');
  return rootfs;
}

export interface ContainerSpec {
  args: string[];
  tty?: boolean;
  stdin?: boolean;
  stdinOnce?: boolean;
  netns: Netns;
}

export class RuncContainer {
  readonly id = `bhst${randomBytes(8).toString('hex')}`;
  readonly bundleDir: string;
  readonly runtimeRoot: string;
  readonly socketDir: string;
  pid = 0;

  constructor(
    readonly workDir: string,
    readonly rootfs: string,
    readonly spec: ContainerSpec,
  ) {
    this.bundleDir = join(workDir, this.id);
    this.runtimeRoot = join(workDir, 'runc-root');
    this.socketDir = join(workDir, 'sock');
  }

  get target(): OciStreamTarget {
    return {
      id: this.id,
      podId: 'pod-' + this.spec.netns.name,
      bundleDir: this.bundleDir,
      runtimePath: 'runc',
      runtimeRoot: this.runtimeRoot,
      attachSocketPath: join(this.socketDir, this.id, 'attach'),
      ctlPath: join(this.bundleDir, 'ctl'),
      tty: this.spec.tty ?? false,
      stdin: this.spec.stdin ?? false,
      stdinOnce: this.spec.stdinOnce ?? false,
    };
  }

  async start(): Promise<void> {
    mkdirSync(this.bundleDir, { recursive: true });
    mkdirSync(this.runtimeRoot, { recursive: true });
    mkdirSync(this.socketDir, { recursive: true });
    execFileSync('runc', ['spec', '--bundle', this.bundleDir]);
    const cfgPath = join(this.bundleDir, 'config.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as {
      process: { args: string[]; terminal: boolean; env: string[] };
      root: { path: string; readonly: boolean };
      linux: { namespaces: { type: string; path?: string }[]; cgroupsPath?: string };
    };
    cfg.process.args = this.spec.args;
    cfg.process.terminal = this.spec.tty ?? false;
    cfg.root = { path: this.rootfs, readonly: false };
    cfg.linux.namespaces = cfg.linux.namespaces.map((n) => (n.type === 'network' ? { type: 'network', path: this.spec.netns.path } : n));
    if (!cfg.linux.namespaces.some((n) => n.type === 'network')) cfg.linux.namespaces.push({ type: 'network', path: this.spec.netns.path });
    cfg.linux.cgroupsPath = `/bulkhead-test-streaming-${this.id}`;
    writeFileSync(cfgPath, JSON.stringify(cfg));

    const args = [
      '--api-version', '1',
      '-c', this.id, '-u', this.id, '-n', this.id,
      '-r', RUNC, '-b', this.bundleDir,
      '-p', join(this.bundleDir, 'pidfile'),
      '-P', join(this.bundleDir, 'conmon.pid'),
      '--persist-dir', this.bundleDir,
      '--exit-dir', this.bundleDir,
      '--socket-dir-path', this.socketDir,
      '-l', `k8s-file:${join(this.bundleDir, 'ctr.log')}`,
      '--log-level', 'error',
      '--runtime-arg', `--root=${this.runtimeRoot}`,
    ];
    if (this.spec.stdin) args.push('-i');
    if (this.spec.tty) args.push('-t');
    else if (this.spec.stdin && !this.spec.stdinOnce) args.push('--leave-stdin-open');
    const child = spawn('conmon', args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, _OCI_SYNCPIPE: '3' } });
    child.unref();
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    const msg = await new Promise<string>((resolve) => {
      let buf = '';
      const sync = child.stdio[3] as Readable;
      sync.on('data', (b: Buffer) => {
        buf += b.toString();
        if (buf.includes('}')) resolve(buf);
      });
      sync.on('end', () => resolve(buf));
    });
    const parsed = JSON.parse(msg.slice(0, msg.indexOf('}') + 1) || '{"data":-1}') as { data: number; message?: string };
    if (parsed.data < 0) throw new Error(`conmon create failed: ${parsed.message ?? ''} ${err}`);
    this.pid = parsed.data;
    execFileSync('runc', ['--root', this.runtimeRoot, 'start', this.id]);
  }

  state(): string {
    try {
      const out = execFileSync('runc', ['--root', this.runtimeRoot, 'state', this.id], { stdio: ['ignore', 'pipe', 'ignore'] });
      return (JSON.parse(out.toString()) as { status: string }).status;
    } catch {
      return 'gone';
    }
  }

  /** Kills and deletes the container; conmon exits with it. */
  cleanup(): void {
    try {
      execFileSync('runc', ['--root', this.runtimeRoot, 'delete', '--force', this.id], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
    const conmonPidFile = join(this.bundleDir, 'conmon.pid');
    if (existsSync(conmonPidFile)) {
      const pid = Number(readFileSync(conmonPidFile, 'utf8').trim());
      try {
        if (pid > 0) process.kill(pid, 'SIGKILL');
      } catch {
        /* exited */
      }
    }
  }
}
