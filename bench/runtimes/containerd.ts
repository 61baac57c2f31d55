// containerd 1.6 (Debian) with its CRI plugin, private to the bench: temp root/state/socket,
// the bench CNI network and registry mirrors, runc v2 shim with cgroupfs.
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { BenchEnv } from '../env.js';
import type { CriClient } from '../cri-client.js';
import { DaemonProcess } from './daemon-process.js';
import { killTreesMatching, removeDir } from './cleanup.js';
import { descendants, listProcesses } from '../proc.js';
import { removeAllPods, type RuntimeUnderTest } from './runtime.js';

export const CONTAINERD_BIN = '/usr/bin/containerd';
const PAUSE_IMAGE = 'registry.k8s.io/pause:3.6';

function renderConfig(base: string, env: BenchEnv): string {
  return `version = 2
root = "${base}/root"
state = "${base}/state"

[grpc]
  address = "${base}/containerd.sock"

[ttrpc]
  address = "${base}/containerd.sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  # Root lacks CAP_SYS_RESOURCE here: a negative oom_score_adj makes sandbox start fail.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${env.cniBinDir}"
    conf_dir = "${env.cniConfDir}"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${env.certsDir}"
`;
}

export function ensureContainerdInstalled(): void {
  if (existsSync(CONTAINERD_BIN)) return;
  execFileSync('apt-get', ['install', '-y', 'containerd'], { stdio: 'inherit' });
}

export class ContainerdRuntime implements RuntimeUnderTest {
  readonly name = 'containerd' as const;
  readonly sandboxImage = PAUSE_IMAGE;
  readonly base: string;
  readonly rootDir: string;
  readonly logFile: string;
  readonly socket: string;
  private readonly daemon: DaemonProcess;
  private cri: CriClient | undefined;

  constructor(env: BenchEnv) {
    this.base = join(env.dir, 'containerd');
    this.rootDir = join(this.base, 'root');
    this.logFile = join(this.base, 'containerd.log');
    this.socket = join(this.base, 'containerd.sock');
    mkdirSync(this.base, { recursive: true });
    const configPath = join(this.base, 'config.toml');
    writeFileSync(configPath, renderConfig(this.base, env));
    this.daemon = new DaemonProcess({
      command: CONTAINERD_BIN,
      args: ['--config', configPath, '--log-level', 'warn'],
      logFile: this.logFile,
      socket: this.socket,
    });
  }

  get client(): CriClient {
    if (!this.cri) throw new Error('containerd not started');
    return this.cri;
  }

  async start(): Promise<void> {
    ensureContainerdInstalled();
    this.cri = await this.daemon.start();
  }

  daemonPid(): number {
    return this.daemon.pid;
  }

  /** The shims this containerd started (one per pod in 1.6) plus their pause processes. */
  perPodHelperPids(workloadComms: string[]): number[] {
    const procs = listProcesses();
    const shims = procs.filter((p) => p.comm.startsWith('containerd-shim') && p.cmdline.includes(`-address ${this.socket}`));
    return descendants(shims.map((p) => p.pid), procs)
      .filter((p) => !workloadComms.includes(p.comm))
      .map((p) => p.pid);
  }

  async version(): Promise<string> {
    const v = await this.client.runtime.Version({ version: 'v1' });
    return `${v.runtime_name} ${v.runtime_version}`;
  }

  async stop(): Promise<void> {
    if (this.cri) {
      await removeAllPods(this.cri).catch(() => 0);
      this.cri.close();
    }
    await this.daemon.stop();
    // Shims outlive containerd by design: they are ours when they name our socket.
    killTreesMatching(`-address ${this.socket}`);
    removeDir(this.base);
  }

  logTail(): string {
    return this.daemon.logTail();
  }
}
