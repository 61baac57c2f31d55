// CRI-O built by bench/setup/build-peers.sh, private to the bench: its storage, state, socket and
// logs under the bench's temp dir, the bench CNI network, the loopback registry as mirror.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchEnv } from '../env.js';
import type { CriClient } from '../cri-client.js';
import { DaemonProcess } from './daemon-process.js';
import { killTreesMatching, removeDir } from './cleanup.js';
import { descendants, listProcesses } from '../proc.js';
import { removeAllPods, type RuntimeUnderTest } from './runtime.js';
import { CRIO_VERSION, peerDir } from './peers.js';
import { CRIO_PAUSE, writeCrioFiles } from './crio-config.js';

export class CrioRuntime implements RuntimeUnderTest {
  readonly name = 'crio' as const;
  readonly label = `CRI-O ${CRIO_VERSION}`;
  /** Pulled up front like the other runtimes' pause images (kubelet's node has it pre-pulled). */
  readonly sandboxImage = CRIO_PAUSE;
  readonly base: string;
  readonly rootDir: string;
  readonly logFile: string;
  readonly socket: string;
  private readonly daemon: DaemonProcess;
  private cri: CriClient | undefined;

  constructor(env: BenchEnv, logLevel = 'warn') {
    this.base = join(env.dir, 'crio');
    this.rootDir = join(this.base, 'storage');
    this.logFile = join(this.base, 'crio.log');
    this.socket = join(this.base, 'crio.sock');
    mkdirSync(join(this.base, 'crio.conf.d'), { recursive: true });
    const files = writeCrioFiles(this.base, env, join(peerDir('crio'), 'pinns'), logLevel);
    this.daemon = new DaemonProcess({
      command: join(peerDir('crio'), 'crio'),
      args: ['--config', files.config, '--config-dir', files.configDir, '--registries-conf', files.registriesConf],
      logFile: this.logFile,
      socket: this.socket,
    });
  }

  get client(): CriClient {
    if (!this.cri) throw new Error(`${this.label} not started`);
    return this.cri;
  }

  async start(): Promise<void> {
    this.cri = await this.daemon.start();
  }

  daemonPid(): number {
    return this.daemon.pid;
  }

  /** conmon monitors of this CRI-O (their args name our dirs) and the infra containers under them. */
  perPodHelperPids(workloadComms: string[]): number[] {
    const procs = listProcesses();
    const monitors = procs.filter((p) => p.comm === 'conmon' && p.cmdline.includes(`${this.base}/`));
    return descendants(monitors.map((p) => p.pid), procs)
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
    killTreesMatching(`${this.base}/`);
    removeDir(this.base);
  }

  logTail(): string {
    return this.daemon.logTail();
  }
}
