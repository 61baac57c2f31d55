// CRI-O built by bench/setup/build-peers.sh, private to the bench: its storage, state, socket and
// logs under the bench's temp dir, the bench CNI network, the loopback registry as mirror.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchEnv } from '../env.js';
import { DaemonProcess } from './daemon-process.js';
import type { ProcInfo } from '../proc.js';
import { DaemonRuntime } from './daemon-runtime.js';
import { CRIO_VERSION, peerDir } from './peers.js';
import { CRIO_PAUSE, writeCrioFiles } from './crio-config.js';

export class CrioRuntime extends DaemonRuntime {
  readonly name = 'crio' as const;
  readonly label = `CRI-O ${CRIO_VERSION}`;
  /** Pulled up front like the other runtimes' pause images (kubelet's node has it pre-pulled). */
  readonly sandboxImage = CRIO_PAUSE;
  readonly base: string;
  readonly rootDir: string;
  readonly logFile: string;
  readonly socket: string;
  protected readonly daemon: DaemonProcess;

  constructor(env: BenchEnv, logLevel = 'warn') {
    super();
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

  /** conmon monitors of this CRI-O (their args name our dirs) and the infra containers under them. */
  protected isMonitor(p: ProcInfo): boolean {
    return p.comm === 'conmon' && p.cmdline.includes(`${this.base}/`);
  }

  protected leftoverPattern(): string {
    return `${this.base}/`;
  }
}
