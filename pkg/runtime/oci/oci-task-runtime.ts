// The task runtime of OCI handlers: containers under runc, each supervised by conmon (which keeps
// its stdio, log and exit code while the daemon restarts); exits arrive as files (exit-watcher.ts).
import { spawnProcess } from '../../sys/spawn.js';
import { constants, openSync, closeSync, writeSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { constants as osConstants } from 'node:os';
import type { Logger } from 'pino';
import { failedPrecondition, internal, invalidArgument } from '../../errors/errors.js';
import type { ContainerRecord, SandboxRecord } from '../../store/records.js';
import { isSameProcessAlive, procStartTime } from '../../sys/proc.js';
import { KILL_EXIT_WAIT_MS, type ContainerRuntimeState, type ExecSyncExit, type ExecSyncRequest, type ProcessStdio, type StdioOptions, type StopRequest, type TaskRuntime } from '../task-runtime.js';
import { startUnderConmon, ConmonError } from './conmon.js';
import type { ExitWatcher } from './exit-watcher.js';
import { OciRuntimeError } from './runc.js';
import { msToNs } from '../../store/time.js';
import type { OciResources } from '../../oci/spec-types.js';
import { readCgroupStats } from '../../cgroups/stats.js';
import { OomLedger } from '../../cgroups/oom-ledger.js';
import { controllerDir } from '../../cgroups/paths.js';
import { cgroupFsPath } from '../../cgroups/systemd-names.js';
import type { OciHandler } from './oci-handler.js';
import type { OciStreams, OciStreamTarget } from './oci-streams.js';

const { SIGKILL } = osConstants.signals;
const OOM_MARKER_OWN = 'bulkhead: oom_kill in the container cgroup\n';
const OOM_MARKER_POD_COUNT = 'bulkhead: oom_kill counted in the pod cgroup (the container cgroup was gone)\n';

export class OciTaskRuntime implements TaskRuntime {
  readonly socketDir: string;

  constructor(
    private readonly h: OciHandler,
    private readonly exits: ExitWatcher,
    private readonly streams: OciStreams,
    private readonly oomLedger: OomLedger = new OomLedger(),
  ) {
    this.socketDir = join(h.stateDir, 'attach');
  }

  private async conmonCreate(id: string, name: string, bundleDir: string, logPath: string, tty: boolean, stdin: boolean, stdinOnce: boolean) {
    await mkdir(this.socketDir, { recursive: true, mode: 0o700 });
    await mkdir(this.h.runtimeRoot, { recursive: true, mode: 0o700 });
    try {
      return await startUnderConmon({
        conmonPath: this.h.conmonPath,
        runtimePath: this.h.runtimePath,
        runtimeRoot: this.h.runtimeRoot,
        id,
        name,
        bundleDir,
        logPath,
        exitDir: this.exits.dir,
        socketDir: this.socketDir,
        tty,
        stdin,
        stdinOnce,
        cgroupArgs: this.h.cgroups.monitorArgs,
      });
    } catch (e) {
      // Leave nothing behind: a half-created runc container blocks a retry with the same id.
      await this.h.cli.delete(id, true).catch(() => undefined);
      await rm(join(this.exits.dir, id), { force: true });
      const detail = await this.runtimeLogError(bundleDir);
      if (e instanceof ConmonError) throw internal(`creating container ${id} failed: ${detail || e.message}`);
      throw e;
    }
  }

  /** The last error runc logged for this bundle (runtime.log, JSON lines). */
  private async runtimeLogError(bundleDir: string): Promise<string> {
    try {
      const lines = (await readFile(join(bundleDir, 'runtime.log'), 'utf8')).trim().split('\n');
      const errs = lines.map((l) => { try { return JSON.parse(l) as { level?: string; msg?: string }; } catch { return {}; } }).filter((j) => j.level === 'error' && j.msg);
      return errs.map((j) => j.msg).join('; ');
    } catch {
      return '';
    }
  }

  async createContainer(sb: SandboxRecord, c: ContainerRecord, log: Logger): Promise<void> {
    this.h.checkAvailable();
    const started = await this.conmonCreate(c.id, c.config.metadata?.name ?? c.id, c.bundleDir, c.logPath, c.tty, c.stdin, c.stdinOnce);
    c.pid = started.pid;
    c.conmonPid = started.conmonPid;
    c.pidStartTime = procStartTime(started.pid);
    // Created, not started: the OOM baselines (pod slice and siblings) can miss no kill of this one.
    const memDir = memoryCgroupDir(c.cgroupsPath);
    if (memDir) this.oomLedger.track(c.id, memDir);
    // systemd driver: conmon leaves the daemon's unit for a scope in the pod slice (as CRI-O's
    // crio-conmon-<id>.scope), so restarting bulkhead.service cannot take it down with the daemon.
    // A failure costs only that, so the container stays.
    await this.h.cgroups.adopt(sb.cgroupParent, `conmon-${c.id}`, [started.conmonPid]).catch((e: unknown) => log.warn({ err: e, containerId: c.id }, 'moving conmon into its scope failed'));
  }

  async startContainer(c: ContainerRecord, _log: Logger): Promise<void> {
    try {
      await this.h.cli.start(c.id);
    } catch (e) {
      if (e instanceof OciRuntimeError) throw internal(`starting container ${c.id} failed: ${e.message}`);
      throw e;
    }
  }

  async stopContainer(c: ContainerRecord, stop: StopRequest, log: Logger): Promise<void> {
    if (await this.exits.read(c.id)) return;
    if (stop.timeoutMs > 0 && stop.signal !== SIGKILL) {
      await this.signal(c, stop.signal);
      if (await this.waitExitOrDeath(c, stop.timeoutMs)) return;
      log.info({ containerId: c.id, timeoutMs: stop.timeoutMs }, 'container ignored its stop signal: killing');
    }
    await this.signal(c, SIGKILL);
    if (await this.waitExitOrDeath(c, KILL_EXIT_WAIT_MS)) return;
    throw internal(`container ${c.id} did not exit after SIGKILL`);
  }

  /**
   * The exit file, or, when conmon is gone (killed under us: nobody will write that file), the
   * death of the process itself. Without the second check a stop waited out its whole timeout.
   */
  private async waitExitOrDeath(c: ContainerRecord, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    for (;;) {
      if (await this.exits.waitExit(c.id, Math.max(0, Math.min(250, end - Date.now())))) return true;
      if (!isSameProcessAlive(c.conmonPid) && !isSameProcessAlive(c.pid, c.pidStartTime)) return true;
      if (Date.now() >= end) return false;
    }
  }

  private async signal(c: ContainerRecord, sig: number): Promise<void> {
    // Fast path: signal the init process directly (what `runc kill <id> SIG` does) when the
    // recorded pid is still the same process; saves a runc spawn on every stop.
    if (c.pid > 0 && c.pidStartTime && isSameProcessAlive(c.pid, c.pidStartTime)) {
      try {
        process.kill(c.pid, sig);
      } catch {
        /* exited meanwhile */
      }
      return;
    }
    try {
      await this.h.cli.kill(c.id, String(sig));
    } catch (e) {
      if (!(e instanceof OciRuntimeError)) throw e;
    }
  }

  async removeContainer(c: ContainerRecord, log: Logger): Promise<void> {
    this.oomLedger.forget(c.id);
    await this.h.cli.delete(c.id, true).catch((e: unknown) => log.warn({ err: e, containerId: c.id }, 'runtime delete failed'));
    await rm(join(this.exits.dir, c.id), { force: true });
    await rm(join(this.socketDir, c.id), { force: true, recursive: true });
    // With a long state path conmon shortens the entry it creates (<socketDir>/<id prefix>) so the
    // attach socket fits sun_path; remove those too (the leak audit found one 4 KB dir per container).
    const shortened = await readdir(this.socketDir).catch(() => [] as string[]);
    for (const n of shortened) if (n.length >= 32 && n !== c.id && c.id.startsWith(n)) await rm(join(this.socketDir, n), { force: true, recursive: true });
  }

  async containerState(c: ContainerRecord): Promise<ContainerRuntimeState> {
    const exit = await this.exits.read(c.id);
    if (exit) {
      const marker = join(c.bundleDir, 'oom');
      const marked = await stat(marker).then(() => true, () => false);
      const own = !marked && oomKills(c.cgroupsPath) > 0;
      const counted = !marked && !own && this.oomLedger.exitedOomKilled(c.id) === true;
      // conmon's own marker file: the verdict outlives the ledger (removal, daemon restart). Its
      // text says which reading found the kill (conmon's file is empty; e2e/systemd-node checks it).
      if (own || counted) await writeFile(marker, counted ? OOM_MARKER_POD_COUNT : OOM_MARKER_OWN).catch(() => undefined);
      const oom = marked || own || counted;
      return { status: 'exited', pid: c.pid, exitCode: exit.exitCode, finishedAt: msToNs(exit.finishedAtMs), oomKilled: oom };
    }
    if (c.pid > 0 && isSameProcessAlive(c.pid, c.pidStartTime)) {
      // A container from before a daemon restart: baselines from now (kills so far are its own count).
      if (!this.oomLedger.has(c.id)) {
        const memDir = memoryCgroupDir(c.cgroupsPath);
        if (memDir) this.oomLedger.track(c.id, memDir);
      }
      return { status: c.state === 'CONTAINER_CREATED' ? 'created' : 'running', pid: c.pid };
    }
    if (c.pid > 0 && !isSameProcessAlive(c.conmonPid)) {
      // conmon writes the exit file and then exits: both may have happened since the read above
      // (a container that exits within ms of its start). Only without the file is the code unknown.
      if (await this.exits.read(c.id)) return this.containerState(c);
      // Both conmon and the process are gone without an exit file.
      return { status: 'exited', pid: c.pid, exitCode: 255, finishedAt: msToNs(Date.now()) };
    }
    return { status: c.state === 'CONTAINER_CREATED' ? 'created' : 'unknown', pid: c.pid };
  }

  async execSync(c: ContainerRecord, req: ExecSyncRequest, log: Logger): Promise<ExecSyncExit> {
    const { cmd } = req;
    if (!cmd.length) throw invalidArgument('exec command must not be empty');
    const spec = JSON.parse(await readFile(join(c.bundleDir, 'config.json'), 'utf8')) as { process: Record<string, unknown> };
    const proc = { ...spec.process, args: cmd, terminal: false };
    const tag = `${process.pid}-${Date.now()}-${Math.random().toString(16).slice(2)}`;
    const execDir = join(c.bundleDir, 'exec');
    await mkdir(execDir, { recursive: true, mode: 0o700 });
    const procFile = join(execDir, `${tag}.json`);
    const pidFile = join(execDir, `${tag}.pid`);
    await writeFile(procFile, JSON.stringify(proc), { mode: 0o600 });
    try {
      return await new Promise<ExecSyncExit>((resolve, reject) => {
        const child = spawnProcess(this.h.runtimePath, this.h.cli.execArgs(c.id, procFile, pidFile), { stdio: ['ignore', 'pipe', 'pipe'] });
        child.stdout!.on('data', (b: Buffer) => req.stdout.push(b));
        child.stderr!.on('data', (b: Buffer) => req.stderr.push(b));
        const onDeadline = (): void => {
          log.info({ containerId: c.id, timeoutMs: req.timeoutMs }, 'exec sync deadline: killing the command');
          // Kill the exec'd process itself (runc exec only waits for it), then runc.
          void killExecProcess(pidFile, () => child.exitCode !== null || child.signalCode !== null).finally(() =>
            setTimeout(() => child.kill('SIGKILL'), 1000).unref(),
          );
        };
        if (req.deadline.aborted) onDeadline();
        else req.deadline.addEventListener('abort', onDeadline, { once: true });
        child.on('error', (e) => {
          req.deadline.removeEventListener('abort', onDeadline);
          reject(e);
        });
        child.on('close', (code, signal) => {
          req.deadline.removeEventListener('abort', onDeadline);
          // runc exits 255 and prints its own error (in stderr) when the exec itself failed (no such binary...).
          resolve({ exitCode: code ?? (signal ? 128 + ((osConstants.signals as Record<string, number>)[signal] ?? 0) : -1), timedOut: false });
        });
      });
    } finally {
      await rm(procFile, { force: true });
      await rm(pidFile, { force: true });
    }
  }

  async updateResources(c: ContainerRecord, ociResources: OciResources): Promise<void> {
    try {
      await this.h.cli.update(c.id, ociResources);
    } catch (e) {
      // runc relays the kernel's EINVAL for out-of-range values (a failed cgroup write): the request's fault.
      if (e instanceof OciRuntimeError && e.failure === 'invalid-value') throw invalidArgument(`updating resources of ${c.id} failed: ${e.message}`);
      // A memory limit below what the container uses now: the kernel refuses it (EBUSY) until usage drops.
      if (e instanceof OciRuntimeError && e.failure === 'limit-below-usage') throw failedPrecondition(`updating resources of ${c.id} failed: ${e.message}`);
      if (e instanceof OciRuntimeError) throw internal(`updating resources of ${c.id} failed: ${e.message}`);
      throw e;
    }
  }

  async reopenLog(c: ContainerRecord): Promise<void> {
    let fd: number;
    try {
      fd = openSync(join(c.bundleDir, 'ctl'), constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (e) {
      throw failedPrecondition(`container ${c.id} is not running (its monitor does not answer): ${(e as Error).message}`);
    }
    try {
      writeSync(fd, '2 0 0\n');
    } finally {
      closeSync(fd);
    }
    // conmon reopens asynchronously; give it a moment so the new file exists when we return.
    for (let i = 0; i < 50; i++) {
      if (await stat(c.logPath).then(() => true, () => false)) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  exec(c: ContainerRecord, cmd: string[], opts: StdioOptions): Promise<ProcessStdio> {
    return this.streams.exec(this.streamTarget(c), cmd, opts);
  }

  attach(c: ContainerRecord, opts: StdioOptions): Promise<ProcessStdio> {
    return this.streams.attach(this.streamTarget(c), opts);
  }

  private streamTarget(c: ContainerRecord): OciStreamTarget {
    return {
      id: c.id,
      podId: c.podId,
      bundleDir: c.bundleDir,
      runtimePath: this.h.runtimePath,
      runtimeRoot: this.h.runtimeRoot,
      attachSocketPath: join(this.socketDir, c.id, 'attach'),
      ctlPath: join(c.bundleDir, 'ctl'),
      tty: c.tty,
      stdin: c.stdin,
      stdinOnce: c.stdinOnce,
    };
  }

  onExit(listener: (containerId: string) => void): void {
    this.exits.onExit(listener);
  }
}

/**
 * SIGKILL to an exec'd process once runc has written its pid file. A deadline can come before
 * that: runc exec took over a second to start the process in the TCG systemd test node, and
 * killing only runc then left critest's "execSync with timeout" sleep running. So wait for the
 * file while runc lives (bounded: 200 × 50 ms).
 */
async function killExecProcess(pidFile: string, runcGone: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const pid = await readFile(pidFile, 'utf8').then((p) => Number(p.trim()), () => 0);
    if (pid > 0) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      return;
    }
    if (runcGone()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The container's memory cgroup dir (cgroupfs or systemd name); undefined when not resolvable. */
function memoryCgroupDir(cgroupsPath: string): string | undefined {
  try {
    return controllerDir(cgroupFsPath(cgroupsPath), 'memory');
  } catch {
    return undefined;
  }
}

function oomKills(cgroupPath: string): number {
  try {
    return readCgroupStats(cgroupPath).memory?.oomKills ?? 0;
  } catch {
    return 0;
  }
}
