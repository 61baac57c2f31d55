// What the three daemons under test share once started: the CRI client, the per-pod helper
// census, version, and the teardown (pods through CRI, daemon, then whatever it left).
import type { CriClient } from '../cri-client.js';
import { descendants, listProcesses, type ProcInfo } from '../proc.js';
import { killTreesMatching, removeDir } from './cleanup.js';
import type { DaemonProcess } from './daemon-process.js';
import { removeAllPods, type RuntimeName, type RuntimeUnderTest } from './runtime.js';

export abstract class DaemonRuntime implements RuntimeUnderTest {
  abstract readonly name: RuntimeName;
  abstract readonly label: string;
  abstract readonly sandboxImage: string;
  abstract readonly rootDir: string;
  abstract readonly logFile: string;
  protected abstract readonly daemon: DaemonProcess;
  /** The daemon's own dir: removed at stop. */
  protected abstract readonly base: string;
  private cri: CriClient | undefined;

  /** A per-pod monitor of this daemon (conmon, a containerd shim): its tree minus workloads are the helpers. */
  protected abstract isMonitor(p: ProcInfo): boolean;
  /** A command-line fragment naming this daemon's leftovers (monitors outlive the daemon by design). */
  protected abstract leftoverPattern(): string;

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

  perPodHelperPids(workloadComms: string[]): number[] {
    const procs = listProcesses();
    const monitors = procs.filter((p) => this.isMonitor(p));
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
    killTreesMatching(this.leftoverPattern());
    removeDir(this.base);
  }

  logTail(): string {
    return this.daemon.logTail();
  }
}
