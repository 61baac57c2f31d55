// One pod VM: spawns QEMU (optionally inside the pod's network namespace and cgroup), connects QMP
// and the agent channel, notices death at once (process exit, or QMP socket close after a daemon
// restart reattached) and shuts down gracefully (agent poweroff → QMP quit → SIGKILL).
import { EventEmitter } from 'node:events';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { AgentClient } from '../vmchannel/client.js';
import { procStartTime } from '../sys/proc.js';
import { QmpClient, type QmpEvent } from './qmp.js';
import { qemuArgs, type QemuSpec } from './qemu-args.js';
import { ConsoleLog, readFileTail } from './console-log.js';
import { releaseShortSocketDir, shortSocketDir } from './socket-dir.js';
import { spawnProcess, type SpawnedProcess } from '../sys/spawn.js';

export interface VmExit {
  code: number | null;
  signal: string | null;
  /** Last QMP SHUTDOWN reason (guest-shutdown, guest-reset = panic with -no-reboot, host-qmp-quit...). */
  shutdownReason: string | null;
  /** How the death was noticed. */
  via: 'process' | 'qmp';
}

export interface LaunchOptions {
  qemuPath: string;
  /** Per-VM state dir (sockets, console log, pidfile); created, and removed by destroy(). */
  stateDir: string;
  spec: Omit<QemuSpec, 'agentSocket' | 'qmpSocket' | 'consoleLog' | 'pidFile'>;
  /** Run QEMU inside this network namespace (bind-mounted netns file). */
  netnsPath?: string;
  /** cgroup.procs files QEMU is moved into right after spawn (the pod's cgroups). */
  cgroupProcs?: string[];
  log: Logger;
  timeoutMs?: number;
  /** Open fds QEMU inherits as fd 3, 4... (spec.addFds names them); the caller closes its copies. */
  passFds?: number[];
}

export function vmPaths(stateDir: string): { agentSocket: string; qmpSocket: string; consoleLog: string; pidFile: string; stderrLog: string } {
  const sockDir = shortSocketDir(stateDir);
  return {
    agentSocket: join(sockDir, 'agent.sock'),
    qmpSocket: join(sockDir, 'qmp.sock'),
    consoleLog: join(stateDir, 'console.log'),
    pidFile: join(stateDir, 'qemu.pid'),
    stderrLog: join(stateDir, 'qemu.stderr'),
  };
}

/**
 * Whether the QEMU recorded in stateDir's pidfile still runs (matched by its command line, which names
 * the pidfile, so a reused pid does not count). Used before a restarted daemon has reattached.
 */
export function vmProcessAlive(stateDir: string): boolean {
  const { pidFile } = vmPaths(stateDir);
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (procStartTime(pid) === undefined) return false; // gone, or a zombie
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(pidFile);
  } catch {
    return false;
  }
}

export class MicroVm extends EventEmitter<{ exit: [VmExit] }> {
  readonly agent: AgentClient;
  /** The serial console, kept a bounded ring while the VM runs. */
  private readonly console: ConsoleLog;
  private exitInfo: VmExit | null = null;
  private shutdownReason: string | null = null;
  readonly exited: Promise<VmExit>;
  private resolveExit!: (e: VmExit) => void;

  private constructor(
    readonly pid: number,
    readonly stateDir: string,
    readonly qmp: QmpClient,
    child: SpawnedProcess | null,
    private readonly log: Logger,
    /** QEMU appends to the console (append=on): only then may the daemon cut it (console-log.ts). */
    consoleAppends = true,
  ) {
    super();
    this.agent = new AgentClient(vmPaths(stateDir).agentSocket);
    this.console = new ConsoleLog(vmPaths(stateDir).consoleLog, (e) => log.warn({ vmPid: pid, err: e.message }, 'cannot trim the VM console log'));
    if (consoleAppends) this.console.start();
    this.exited = new Promise((r) => (this.resolveExit = r));
    qmp.on('event', (e: QmpEvent) => {
      if (e.event === 'SHUTDOWN') this.shutdownReason = String(e.data?.reason ?? 'unknown');
      log.info({ vmPid: pid, qmpEvent: e.event, data: e.data }, 'qmp event');
    });
    qmp.on('close', () => {
      // With a child we wait for its exit status; a reattached VM only has the QMP socket.
      if (!child) this.markExited({ code: null, signal: null, via: 'qmp' });
    });
    child?.on('exit', (code, signal) => this.markExited({ code, signal, via: 'process' }));
  }

  get exit(): VmExit | null {
    return this.exitInfo;
  }

  private markExited(e: Omit<VmExit, 'shutdownReason'>): void {
    if (this.exitInfo) return;
    this.exitInfo = { ...e, shutdownReason: this.shutdownReason };
    this.console.stop();
    this.agent.close();
    this.qmp.close();
    this.log.info({ vmPid: this.pid, ...this.exitInfo }, 'vm exited');
    this.resolveExit(this.exitInfo);
    this.emit('exit', this.exitInfo);
  }

  static async launch(o: LaunchOptions): Promise<MicroVm> {
    mkdirSync(o.stateDir, { recursive: true, mode: 0o700 });
    const p = vmPaths(o.stateDir);
    for (const f of [p.agentSocket, p.qmpSocket, p.pidFile]) rmSync(f, { force: true });
    const args = qemuArgs({ ...o.spec, agentSocket: p.agentSocket, qmpSocket: p.qmpSocket, consoleLog: p.consoleLog, pidFile: p.pidFile });
    const [cmd, argv] = o.netnsPath ? ['nsenter', [`--net=${o.netnsPath}`, '--', o.qemuPath, ...args]] : [o.qemuPath, args];
    const errFd = openSync(p.stderrLog, 'w');
    // Detached: a daemon restart must not take the pod's VM down with it. posix_spawn, not
    // child_process: libuv forks, and a fork of the daemon costs 2-22 ms of blocked event loop
    // (84-430 MiB RSS, pkg/sys/spawn.ts), paid at every VM start.
    const child = spawnProcess(cmd, argv, { detached: true, stdio: ['ignore', 'ignore', errFd, ...(o.passFds ?? [])] });
    closeSync(errFd);
    let spawnError: Error | undefined;
    child.on('error', (e) => (spawnError = e));
    const pid = await child.ready;
    if (!pid) throw new Error(`cannot spawn ${cmd}: ${spawnError?.message ?? 'unknown error'}`);
    child.unref();
    writeFileSync(join(o.stateDir, 'qemu.cmdline'), JSON.stringify([cmd, ...argv]));
    o.log.info({ vmPid: pid, name: o.spec.name, accel: o.spec.accel }, 'qemu spawned');
    try {
      for (const procs of o.cgroupProcs ?? []) writeFileSync(procs, String(pid));
      const early = new Promise<never>((_, reject) =>
        child.once('exit', (code, sig) => reject(new Error(`qemu exited at start (code ${code}, signal ${sig}): ${readTail(p.stderrLog)}`))),
      );
      early.catch(() => undefined); // observed by whoever awaits the boot; this only avoids an unhandled rejection
      const qmp = await Promise.race([QmpClient.connect(p.qmpSocket, o.timeoutMs ?? 10_000), early]);
      return new MicroVm(pid, o.stateDir, qmp, child, o.log);
    } catch (e) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      throw e;
    }
  }

  /** Reattaches to a VM a previous daemon started (QMP + pidfile); death is then noticed via QMP close. */
  static async attach(stateDir: string, log: Logger): Promise<MicroVm> {
    const p = vmPaths(stateDir);
    const pid = Number(readFileSync(p.pidFile, 'utf8').trim());
    const qmp = await QmpClient.connect(p.qmpSocket, 2000);
    // A QEMU an older daemon started writes the console at its own offset (no append=on): cutting the
    // file under it would only leave a sparse file, so its console is left alone.
    let cmdline = '';
    try {
      cmdline = readFileSync(join(stateDir, 'qemu.cmdline'), 'utf8');
    } catch {
      /* none */
    }
    return new MicroVm(pid, stateDir, qmp, null, log, cmdline.includes('id=console') && cmdline.includes('append=on'));
  }

  /** Connects the agent channel; resolves when the agent answered Hello. */
  async connectAgent(timeoutMs: number): Promise<void> {
    const ac = new AbortController();
    const onExit = (): void => ac.abort();
    this.once('exit', onExit);
    try {
      if (this.exitInfo) throw new Error('vm exited');
      await this.agent.connect({ timeoutMs, signal: ac.signal });
    } catch (e) {
      if (this.exitInfo) throw new Error(`vm died before its agent answered: ${this.consoleTail()}`);
      throw e;
    } finally {
      this.off('exit', onExit);
    }
  }

  consoleTail(bytes = 2000): string {
    return this.console.tail(bytes);
  }

  /** Graceful stop: agent poweroff, then QMP quit, then SIGKILL; resolves once QEMU is gone. */
  async shutdown(graceMs = 5000): Promise<VmExit> {
    if (this.exitInfo) return this.exitInfo;
    const waitExit = (ms: number): Promise<boolean> =>
      Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
    if (this.agent.connected) {
      await this.agent.call('shutdown', {}, { timeoutMs: 1000 }).catch(() => undefined); // the guest may not answer: QMP quit and SIGKILL follow
      if (await waitExit(graceMs)) return this.exitInfo!;
    }
    await this.qmp.execute('quit').catch(() => undefined); // QEMU may be gone already: SIGKILL follows
    if (await waitExit(2000)) return this.exitInfo!;
    this.kill();
    await waitExit(5000);
    return this.exitInfo ?? { code: null, signal: 'SIGKILL', shutdownReason: null, via: 'process' };
  }

  kill(): void {
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }

  /** Removes the state dir (sockets, logs); only after exit. */
  destroy(): void {
    releaseShortSocketDir(this.stateDir);
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}

/** The end of a log (QEMU's stderr): read from the end, never whole. */
function readTail(path: string, bytes = 2000): string {
  return readFileTail(path, bytes).toString('utf8');
}
