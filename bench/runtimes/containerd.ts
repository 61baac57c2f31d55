// containerd with its CRI plugin, private to the bench: temp root/state/socket, the bench CNI
// network and registry mirrors. Two of them run side by side: Debian's 1.6.20 and 2.x built by
// bench/setup/build-peers.sh (its shim is found on PATH, so the peer dir goes first on it).
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { BenchEnv } from '../env.js';
import { DaemonProcess } from './daemon-process.js';
import type { ProcInfo } from '../proc.js';
import { DaemonRuntime } from './daemon-runtime.js';
import { containerd16Config, containerd2Config, PAUSE_16, PAUSE_2 } from './containerd-config.js';
import { CONTAINERD2_VERSION, peerDir } from './peers.js';

export const CONTAINERD_BIN = '/usr/bin/containerd';

export function ensureContainerdInstalled(): void {
  if (existsSync(CONTAINERD_BIN)) return;
  execFileSync('apt-get', ['install', '-y', 'containerd'], { stdio: 'inherit' });
}

function debianVersion(): string {
  try {
    // "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3"
    const v = execFileSync(CONTAINERD_BIN, ['--version'], { encoding: 'utf8' }).split(' ')[2] ?? '';
    return v.replace(/~.*$/, '');
  } catch {
    return '1.6';
  }
}

export class ContainerdRuntime extends DaemonRuntime {
  readonly name: 'containerd1' | 'containerd2';
  readonly label: string;
  readonly sandboxImage: string;
  readonly base: string;
  readonly rootDir: string;
  readonly logFile: string;
  readonly socket: string;
  protected readonly daemon: DaemonProcess;
  private readonly v2: boolean;

  constructor(env: BenchEnv, major: 1 | 2, logLevel = 'warn') {
    super();
    this.v2 = major === 2;
    this.name = this.v2 ? 'containerd2' : 'containerd1';
    this.label = `containerd ${this.v2 ? CONTAINERD2_VERSION : existsSync(CONTAINERD_BIN) ? debianVersion() : '1.6'}`;
    this.sandboxImage = this.v2 ? PAUSE_2 : PAUSE_16;
    this.base = join(env.dir, this.name);
    this.rootDir = join(this.base, 'root');
    this.logFile = join(this.base, 'containerd.log');
    this.socket = join(this.base, 'containerd.sock');
    mkdirSync(this.base, { recursive: true });
    const configPath = join(this.base, 'config.toml');
    writeFileSync(configPath, this.v2 ? containerd2Config(this.base, env) : containerd16Config(this.base, env));
    const bin = this.v2 ? join(peerDir('containerd2'), 'containerd') : CONTAINERD_BIN;
    this.daemon = new DaemonProcess({
      command: bin,
      args: ['--config', configPath, '--log-level', logLevel],
      logFile: this.logFile,
      socket: this.socket,
      ...(this.v2 ? { env: { ...process.env, PATH: `${peerDir('containerd2')}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` } } : {}),
    });
  }

  override async start(): Promise<void> {
    if (!this.v2) ensureContainerdInstalled();
    await super.start();
  }

  /** The shims this containerd started (one per pod) plus their pause processes. */
  protected isMonitor(p: ProcInfo): boolean {
    return p.comm.startsWith('containerd-shim') && p.cmdline.includes(`-address ${this.socket}`);
  }

  /** Shims outlive containerd by design: they are ours when they name our socket. */
  protected leftoverPattern(): string {
    return `-address ${this.socket}`;
  }
}
