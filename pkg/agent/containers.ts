// The pod's containers inside the guest, run by crun (cgroup v2). The agent is the monitor: it spawns a
// foreground `crun run` per container (crun reaps the container; the agent gets crun's exit status),
// writes the CRI-format log, tracks exit status and OOM kills, and serves exec via `crun exec`.
// Over 400 lines as one class: create, exec, resize, signals and the OOM poll share the container map,
// the exec pid files and the pod PID namespace holder; the stateless guest plumbing is guest-system.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CreateContainerRequest__Output } from '../../api/gen/agent/bulkhead/agent/v1/CreateContainerRequest.js';
import type { ExecProcessRequest__Output } from '../../api/gen/agent/bulkhead/agent/v1/ExecProcessRequest.js';
import type { LinuxResources__Output } from '../../api/gen/agent/bulkhead/agent/v1/LinuxResources.js';
import type { ContainerStats } from '../../api/gen/agent/bulkhead/agent/v1/ContainerStats.js';
import { AgentError, Code, type ExitStatus } from '../vmchannel/codec.js';
import { CriLogWriter } from './cri-log.js';
import { readCgroupFiles, readCgroupV2Stats } from './cgroup-stats.js';
import { run } from './exec-file.js';
import { SHARE_DIR } from './sandbox-setup.js';
import { EphemeralVolumes } from './ephemeral.js';
import { crunRunningPid } from './crun-state.js';
import { warmUp } from './warm-up.js';
import { CGROUP_ROOT, POD_PIDNS_MARKER, adaptSpec, childOf, ensureParentCgroup, execProcess, findBlockBySerial, isMounted, nowNs, onTerminal, readIfExists } from './guest-system.js';

const RUN_DIR = '/run/bulkhead';
const CRUN_ROOT = '/run/crun';
const CRUN = ['--root', CRUN_ROOT, '--cgroup-manager=cgroupfs'];
/** How long StartContainer waits for crun to report the container running. */
const START_WAIT_MS = 10_000;
const ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

type State = 'created' | 'running' | 'exited';

interface GuestContainer {
  id: string;
  dir: string;
  rootfs: string;
  state: State;
  pid: number;
  child?: ChildProcess;
  exit?: ExitStatus;
  log: CriLogWriter;
  oomKills: bigint;
  stdinWanted: boolean;
  tty: boolean;
}

export interface ContainerEvents {
  exit: [string, ExitStatus];
  oom: [string];
  /** Live container stdout (1) / stderr (2) bytes, for attach sessions. */
  output: [string, 1 | 2, Buffer];
}

export interface ExecHandle {
  execId: string;
  pid: number;
  /** The process's stdin (null without stdin). */
  stdin: Writable | null;
}

/** Where an exec's output goes: write() false means "pause until onDrain". */
export interface ExecOutput {
  write(fd: 1 | 2, b: Buffer): boolean;
  onDrain(f: () => void): void;
}

export class AgentContainers extends EventEmitter<ContainerEvents> {
  private readonly containers = new Map<string, GuestContainer>();
  private readonly layers = new Map<string, string>();
  /** The pod's guest-RAM volumes (memory-backed emptyDirs), shared by its containers. */
  private readonly ephemeral = new EphemeralVolumes();
  private execSeq = 0;
  private readonly oomTimer: NodeJS.Timeout;

  constructor() {
    super();
    mkdirSync(join(RUN_DIR, 'containers'), { recursive: true });
    mkdirSync(join(RUN_DIR, 'layers'), { recursive: true });
    this.oomTimer = setInterval(() => this.pollOom(), 1000);
    this.oomTimer.unref();
  }

  list(): GuestContainer[] {
    return [...this.containers.values()];
  }

  /** A throw-away container (warm-up.ts) so a pooled VM's first real one starts on translated code. */
  async warmUp(): Promise<void> {
    await warmUp(join(RUN_DIR, 'warm-up'), CRUN);
  }

  get(id: string): GuestContainer {
    const c = this.containers.get(id);
    if (!c) throw new AgentError(Code.NotFound, `container ${id} not found in guest`);
    return c;
  }

  async create(req: CreateContainerRequest__Output): Promise<void> {
    const id = req.container_id;
    if (!ID_RE.test(id)) throw new AgentError(Code.InvalidArgument, `bad container id ${JSON.stringify(id)}`);
    if (this.containers.has(id)) throw new AgentError(Code.AlreadyExists, `container ${id} already exists in guest`);
    let spec: Record<string, unknown>;
    try {
      spec = JSON.parse(req.spec_json) as Record<string, unknown>;
    } catch (e) {
      throw new AgentError(Code.InvalidArgument, `spec_json: ${(e as Error).message}`);
    }
    const serial = req.rootfs?.block_serial;
    const shared = req.rootfs?.shared_path;
    if (!serial && !shared) throw new AgentError(Code.InvalidArgument, 'rootfs needs block_serial or shared_path');
    if (shared && (shared.split('/').includes('..') || !existsSync(join(SHARE_DIR, shared)))) {
      throw new AgentError(Code.InvalidArgument, `rootfs.shared_path ${shared} is not in the pod share`);
    }
    const dir = join(RUN_DIR, 'containers', id);
    let rootfs = join(dir, 'rootfs');
    mkdirSync(dir, { recursive: true });
    try {
      if (shared) {
        rootfs = join(SHARE_DIR, shared);
      } else {
        const lower = await this.mountLayer(serial!);
        mkdirSync(join(dir, 'upper'), { recursive: true });
        mkdirSync(join(dir, 'work'), { recursive: true });
        mkdirSync(rootfs, { recursive: true });
        const lowerDir = req.rootfs?.subpath ? join(lower, req.rootfs.subpath) : lower;
        await run('mount', ['-t', 'overlay', '-o', `lowerdir=${lowerDir},upperdir=${dir}/upper,workdir=${dir}/work`, 'overlay', rootfs]);
      }
      await this.ephemeral.prepare(req.ephemeral_volumes, Array.isArray(spec.mounts) ? (spec.mounts as unknown[]) : []);
      const wantsPodPid = ((spec.linux as { namespaces?: { type: string; path?: string }[] } | undefined)?.namespaces ?? []).some((n) => n.type === 'pid' && n.path === POD_PIDNS_MARKER);
      const podPidNs = wantsPodPid ? await this.podPidNamespace() : undefined;
      ensureParentCgroup(id);
      writeFileSync(join(dir, 'config.json'), JSON.stringify(adaptSpec(spec, rootfs, id, podPidNs, req.tty)));
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    const log = new CriLogWriter(join(dir, 'container.log'));
    writeFileSync(log.path, '');
    this.containers.set(id, { id, dir, rootfs, state: 'created', pid: 0, log, oomKills: 0n, stdinWanted: req.stdin, tty: req.tty });
  }

  /** Spawns `crun run` and resolves once crun reports the container running (or it already exited). */
  async start(id: string): Promise<number> {
    const c = this.get(id);
    if (c.state !== 'created') throw new AgentError(Code.FailedPrecondition, `container ${id} is ${c.state}, not created`);
    const [bin, argv] = c.tty ? onTerminal(['crun', ...CRUN, 'run', '--bundle', c.dir, id]) : ['crun', [...CRUN, 'run', '--bundle', c.dir, id]];
    const child = spawn(bin, argv, { stdio: [c.stdinWanted || c.tty ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    if (c.tty && !c.stdinWanted) child.stdin?.end();
    child.stdin?.on('error', () => undefined);
    c.child = child;
    c.state = 'running';
    c.pid = child.pid ?? 0;
    // A host lagging behind the bounded guest log pauses the container's pipes (cri-log.ts shouldHold).
    const hold = (): void => {
      if (!c.log.shouldHold) return;
      child.stdout!.pause();
      child.stderr!.pause();
      c.log.once('drained', () => {
        child.stdout!.resume();
        child.stderr!.resume();
      });
    };
    child.stdout!.on('data', (d: Buffer) => {
      c.log.write('stdout', d);
      this.emit('output', id, 1, d);
      hold();
    });
    child.stderr!.on('data', (d: Buffer) => {
      c.log.write('stderr', d);
      this.emit('output', id, 2, d);
      hold();
    });
    child.on('close', (code, signal) => this.onExit(c, code, signal));
    child.on('error', (e) => {
      c.log.write('stderr', Buffer.from(`crun: ${e.message}\n`));
    });
    // crun's state files, not `crun state` (a fork of this process per poll); 10 s as before (500 x 20 ms).
    for (const deadline = Date.now() + START_WAIT_MS; c.state === 'running' && Date.now() < deadline; ) {
      const pid = crunRunningPid(CRUN_ROOT, id);
      if (pid) {
        c.pid = pid;
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    return c.pid;
  }

  wait(id: string): Promise<ExitStatus> {
    const c = this.get(id);
    if (c.exit) return Promise.resolve(c.exit);
    return new Promise((resolve) => {
      const onExit = (cid: string, st: ExitStatus): void => {
        if (cid !== id) return;
        this.off('exit', onExit);
        resolve(st);
      };
      this.on('exit', onExit);
    });
  }

  async signal(id: string, sig: number, all: boolean): Promise<void> {
    const c = this.get(id);
    if (c.state !== 'running') return;
    await run('crun', [...CRUN, 'kill', ...(all ? ['--all'] : []), id, String(sig)]).catch((e: Error) => {
      if (c.state === 'running') throw new AgentError(Code.Internal, e.message);
    });
  }

  async delete(id: string): Promise<void> {
    const c = this.containers.get(id);
    if (!c) return;
    if (c.state === 'running') throw new AgentError(Code.FailedPrecondition, `container ${id} is running`);
    await run('crun', [...CRUN, 'delete', '-f', id]).catch(() => undefined); // best effort: the create failed already and that error is what the caller gets
    if (!c.rootfs.startsWith(SHARE_DIR + '/') && isMounted(c.rootfs)) await run('umount', ['-l', c.rootfs]);
    rmSync(c.dir, { recursive: true, force: true });
    try {
      rmdirSync(join(CGROUP_ROOT, 'bulkhead', id));
    } catch {
      /* already gone, or crun still tearing its child down */
    }
    this.containers.delete(id);
  }

  exec(req: ExecProcessRequest__Output, out: ExecOutput, onExit: (st: ExitStatus) => void): ExecHandle {
    const c = this.get(req.container_id);
    if (c.state !== 'running') throw new AgentError(Code.FailedPrecondition, `container ${c.id} is not running`);
    if (req.args.length === 0) throw new AgentError(Code.InvalidArgument, 'exec needs a command');
    const execId = `exec-${++this.execSeq}`;
    const pidFile = join(c.dir, `${execId}.pid`);
    this.execPidFiles.set(execId, pidFile);
    // The exec'd process inherits the container's process settings (user, groups, capabilities,
    // no_new_privileges, rlimits, env, cwd) as with runc exec; only args (and tty, env additions) differ.
    // terminal without --console-socket: crun allocates the pty in the container and proxies it (onTerminal).
    const processFile = join(c.dir, `${execId}.process.json`);
    writeFileSync(processFile, JSON.stringify(execProcess(join(c.dir, 'config.json'), req)));
    const args = [...CRUN, 'exec', '--pid-file', pidFile, '--process', processFile, c.id];
    const [bin, argv] = req.tty ? onTerminal(['crun', ...args]) : ['crun', args];
    const p = spawn(bin, argv, { stdio: [req.stdin || req.tty ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    p.stdin?.on('error', () => undefined);
    if (req.tty && !req.stdin) p.stdin?.end();
    const pump = (fd: 1 | 2, r: NodeJS.ReadableStream & { pause(): void; resume(): void }): void => {
      r.on('data', (d: Buffer) => {
        if (!out.write(fd, d)) {
          r.pause();
          out.onDrain(() => r.resume());
        }
      });
    };
    pump(1, p.stdout!);
    pump(2, p.stderr!);
    let timedOut = false;
    const timer =
      req.timeout_seconds > 0
        ? setTimeout(() => {
            timedOut = true;
            // Kill the exec'd process itself (crun exec only waits for it), then crun.
            try {
              process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
            } catch {
              p.kill('SIGKILL');
            }
          }, req.timeout_seconds * 1000)
        : undefined;
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      this.execPidFiles.delete(execId);
      rmSync(pidFile, { force: true });
      rmSync(processFile, { force: true });
      const st = this.exitStatus(code, signal, 0n);
      onExit(timedOut ? { ...st, reason: 'Timeout' } : st);
    });
    p.on('error', (e) => out.write(2, Buffer.from(`crun exec: ${e.message}\n`)));
    return { execId, pid: p.pid ?? 0, stdin: req.stdin ? p.stdin : null };
  }

  /** The running container's stdin pipe (null when it was created without stdin or is not running). */
  stdinOf(id: string): Writable | null {
    return this.get(id).child?.stdin ?? null;
  }

  stats(ids: string[]): ContainerStats[] {
    const pick = ids.length ? ids.map((id) => this.get(id)) : this.list();
    return pick.map((c) => {
      const dir = join(CGROUP_ROOT, 'bulkhead', c.id);
      const s = readCgroupV2Stats(dir);
      return {
        container_id: c.id,
        timestamp_ns: nowNs(),
        cpu_usage_ns: s.cpuUsageNs.toString(),
        memory_working_set_bytes: s.memoryWorkingSetBytes.toString(),
        memory_usage_bytes: s.memoryUsageBytes.toString(),
        memory_rss_bytes: s.memoryRssBytes.toString(),
        oom_kills: s.oomKills.toString(),
        pids: s.pids.toString(),
        cgroup_files: readCgroupFiles(dir),
      };
    });
  }

  async update(id: string, r: LinuxResources__Output | null): Promise<void> {
    const c = this.get(id);
    if (!r || c.state !== 'running') return;
    const args = [...CRUN, 'update'];
    if (r.cpu_period !== '0') args.push('--cpu-period', r.cpu_period);
    if (r.cpu_quota !== '0') args.push('--cpu-quota', r.cpu_quota);
    if (r.cpu_shares !== '0') args.push('--cpu-share', r.cpu_shares);
    if (r.memory_limit_bytes !== '0') args.push('--memory', r.memory_limit_bytes);
    if (r.cpuset_cpus) args.push('--cpuset-cpus', r.cpuset_cpus);
    await run('crun', [...args, id]);
  }

  private podPidHolder: { pid: number; nsPath: string } | undefined;
  private readonly execPidFiles = new Map<string, string>();

  private readonly resizeChains = new Map<string, Promise<void>>();

  /**
   * Sets the window size of a tty container's or tty exec's terminal. crun proxies that pty itself
   * (onTerminal), so the agent sets the size on the pty slave the process holds (/proc/<pid>/fd/N,
   * busybox `stty -F`): the kernel then sends the process SIGWINCH, as with a resize on the master.
   * Resizes of one terminal apply in order; an exec's pid file may appear only after its first resize.
   */
  resize(containerId: string, execId: string, width: number, height: number): Promise<void> {
    const c = this.get(containerId);
    if (width <= 0 || height <= 0) throw new AgentError(Code.InvalidArgument, `terminal size ${width}x${height}`);
    const pidFile = execId ? this.execPidFiles.get(execId) : undefined;
    if (execId && !pidFile) throw new AgentError(Code.NotFound, `exec ${execId} not found (exited?)`);
    if (!execId && !c.tty) throw new AgentError(Code.FailedPrecondition, `container ${c.id} has no terminal`);
    const key = execId || c.id;
    const apply = async (): Promise<void> => {
      let pid = c.pid;
      if (pidFile) {
        pid = 0;
        for (let i = 0; i < 100 && !pid && this.execPidFiles.has(execId); i++) {
          pid = Number(readIfExists(pidFile).trim()) || 0;
          if (!pid) await new Promise((r) => setTimeout(r, 50));
        }
      }
      if (!pid) throw new AgentError(Code.FailedPrecondition, `resize: ${key} has no running process`);
      const size = ['rows', String(height), 'cols', String(width)];
      let last: unknown;
      for (const fd of [0, 1, 2]) {
        try {
          await run('stty', ['-F', `/proc/${pid}/fd/${fd}`, ...size]);
          return;
        } catch (e) {
          last = e; // that fd is not the terminal (redirected): try the next
        }
      }
      throw new AgentError(Code.FailedPrecondition, `resize ${key}: ${(last as Error).message}`);
    };
    const next = (this.resizeChains.get(key) ?? Promise.resolve()).then(apply);
    const tail = next.catch(() => undefined); // the chain only orders calls; each caller sees its own rejection
    this.resizeChains.set(key, tail);
    void tail.then(() => this.resizeChains.get(key) === tail && this.resizeChains.delete(key));
    return next;
  }

  /** Signals a running exec'd process (not crun: the process crun exec started). */
  signalExec(execId: string, sig: number): void {
    const f = this.execPidFiles.get(execId);
    if (!f) throw new AgentError(Code.NotFound, `exec ${execId} not found (exited?)`);
    try {
      process.kill(Number(readFileSync(f, 'utf8')), sig);
    } catch (e) {
      throw new AgentError(Code.FailedPrecondition, `signal exec ${execId}: ${(e as Error).message}`);
    }
  }

  /**
   * The pod's shared PID namespace (CRI NamespaceMode POD): held by a sleeping process started with
   * `unshare -p -f` (its forked child is PID 1 of the namespace), like the infra process of namespace pods.
   * That PID 1 is catatonit in pause mode: it reaps the orphans the pod's processes leave behind.
   */
  private async podPidNamespace(): Promise<string> {
    if (this.podPidHolder && existsSync(`/proc/${this.podPidHolder.pid}`)) return this.podPidHolder.nsPath;
    const p = spawn('unshare', ['-p', '-f', 'catatonit', '-P'], { stdio: 'ignore' });
    p.on('error', () => undefined);
    for (let i = 0; i < 200; i++) {
      const child = childOf(p.pid ?? -1);
      if (child) {
        this.podPidHolder = { pid: child, nsPath: `/proc/${child}/ns/pid` };
        return this.podPidHolder.nsPath;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    p.kill('SIGKILL');
    throw new AgentError(Code.Internal, 'could not create the pod PID namespace');
  }

  private async mountLayer(serial: string): Promise<string> {
    const have = this.layers.get(serial);
    if (have) return have;
    if (!/^[a-zA-Z0-9_.-]{1,20}$/.test(serial)) throw new AgentError(Code.InvalidArgument, `bad block serial ${serial}`);
    const dev = findBlockBySerial(serial);
    if (!dev) throw new AgentError(Code.NotFound, `no virtio-blk disk with serial ${serial} in the guest`);
    const dir = join(RUN_DIR, 'layers', serial);
    mkdirSync(dir, { recursive: true });
    if (!isMounted(dir)) await run('mount', ['-t', 'erofs', '-o', 'ro', dev, dir]);
    this.layers.set(serial, dir);
    return dir;
  }

  private exitStatus(code: number | null, signal: NodeJS.Signals | null, oomKills: bigint): ExitStatus {
    const exitCode = code ?? 128;
    const sig = exitCode > 128 ? exitCode - 128 : 0;
    const reason = oomKills > 0n && (exitCode === 137 || signal === 'SIGKILL') ? 'OOMKilled' : exitCode === 0 ? 'Completed' : 'Error';
    return { exit_code: exitCode, reason, finished_at_ns: nowNs(), signal: sig };
  }

  private onExit(c: GuestContainer, code: number | null, signal: NodeJS.Signals | null): void {
    this.pollOomOf(c);
    c.log.flush();
    c.state = 'exited';
    c.exit = this.exitStatus(code, signal, c.oomKills);
    c.child = undefined;
    this.emit('exit', c.id, c.exit);
  }

  private pollOom(): void {
    for (const c of this.containers.values()) if (c.state === 'running') this.pollOomOf(c);
  }

  private pollOomOf(c: GuestContainer): void {
    const f = join(CGROUP_ROOT, 'bulkhead', c.id, 'memory.events');
    if (!existsSync(f)) return;
    const kills = readCgroupV2Stats(join(CGROUP_ROOT, 'bulkhead', c.id)).oomKills;
    if (kills > c.oomKills) {
      c.oomKills = kills;
      this.emit('oom', c.id);
    }
  }
}
