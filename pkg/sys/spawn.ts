// Starting child processes without forking the daemon. libuv's uv_spawn uses fork() on Linux: the
// kernel copies the page tables of the whole ~80 MiB daemon while the event loop waits, 2-4 ms per
// spawn at 84 MiB RSS and 22 ms at 430 MiB (measured here, /bin/true), and a pod start spawns
// runc, conmon and CNI plugins several times. glibc's posix_spawn uses clone(CLONE_VM|CLONE_VFORK):
// the child borrows our memory until it execs, so the cost no longer grows with the daemon.
//
// The posix_spawn call itself runs on libuv's thread pool (koffi's async call): with CLONE_VFORK the
// caller waits until the child has exec'd, and on a loaded 2-core node that wait (the child's turn
// in the run queue, then execve) blocked the event loop 96-168 ms per CNI plugin start in a
// 20-pod burst (CPU profile at load ~10, 2026-12-05). The child's pid is known a moment later:
// `ready` resolves with it.
//
// Exits: libuv reaps only the pids it spawned itself (waitpid per pid), so ours stay zombies
// until we collect them. Every SIGCHLD we poll each child of ours with waitid(WNOHANG); a pid
// is never reused before we reap it, so kill() cannot hit a stranger while the child is tracked.
import { EventEmitter } from 'node:events';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import koffi from 'koffi';
import { sysError } from './mount.js';
import { which } from './which.js';

const libc = koffi.load('libc.so.6');
const cSpawn = libc.func('int posix_spawn(_Out_ int *pid, const char *path, void *actions, void *attr, const char **argv, const char **envp)');
const cActionsInit = libc.func('int posix_spawn_file_actions_init(void *actions)');
const cActionsDestroy = libc.func('int posix_spawn_file_actions_destroy(void *actions)');
const cActionsDup2 = libc.func('int posix_spawn_file_actions_adddup2(void *actions, int fd, int newfd)');
const cActionsOpen = libc.func('int posix_spawn_file_actions_addopen(void *actions, int fd, const char *path, int oflag, unsigned int mode)');
const cActionsChdir = libc.func('int posix_spawn_file_actions_addchdir_np(void *actions, const char *path)');
const cAttrInit = libc.func('int posix_spawnattr_init(void *attr)');
const cAttrDestroy = libc.func('int posix_spawnattr_destroy(void *attr)');
const cAttrSetFlags = libc.func('int posix_spawnattr_setflags(void *attr, short flags)');
const cAttrSetSigMask = libc.func('int posix_spawnattr_setsigmask(void *attr, void *mask)');
const cAttrSetSigDefault = libc.func('int posix_spawnattr_setsigdefault(void *attr, void *mask)');
const cSigEmptySet = libc.func('int sigemptyset(void *set)');
const cSigFillSet = libc.func('int sigfillset(void *set)');
const cPipe2 = libc.func('int pipe2(_Out_ int *fds, int flags)');
const cFcntl = libc.func('int fcntl(int fd, int cmd, int arg)');
const cClose = libc.func('int close(int fd)');
const cWaitid = libc.func('int waitid(int idtype, int id, void *infop, int options)');

// glibc x86_64/aarch64 sizes of the opaque types (posix_spawn_file_actions_t 80, posix_spawnattr_t
// 336, sigset_t 128) and the siginfo_t fields waitid fills (si_code at 8, si_pid 16, si_status 24).
const ACTIONS_SIZE = 80;
const ATTR_SIZE = 336;
const SIGSET_SIZE = 128;
const SIGINFO_SIZE = 128;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;
const O_CLOEXEC = 0o2000000;
const O_RDWR = 0o2;
const F_DUPFD_CLOEXEC = 1030;
const P_PID = 1;
const WEXITED = 4;
const WNOHANG = 1;
const CLD_EXITED = 1;

/** One child fd: a pipe to us, /dev/null, or an fd of ours the child gets a copy of. */
export type StdioSpec = 'pipe' | 'ignore' | number;

export interface SpawnOptions {
  /** Child fds 0, 1, 2, 3...; default all 'ignore'. */
  stdio?: StdioSpec[];
  /** The child's whole environment; default: the daemon's. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** A session of its own (setsid): signals to our group and our terminal don't reach it. */
  detached?: boolean;
}

/**
 * The part of ChildProcess Bulkhead uses: pid, the pipe ends, 'exit' (code, signal), 'close' (after
 * 'exit' and the end of every output pipe), 'error' (the exec failed), kill(), unref().
 */
export interface SpawnedProcessEvents {
  exit: [code: number | null, signal: NodeJS.Signals | null];
  close: [code: number | null, signal: NodeJS.Signals | null];
  error: [err: Error];
}

export class SpawnedProcess extends EventEmitter<SpawnedProcessEvents> {
  /** Undefined until the spawn completed (`ready`), and for a child that could not be started. */
  pid: number | undefined;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  readonly stdio: (Readable | Writable | null)[] = [];
  /** The child's pid once it exists; undefined if it could not be started ('error' says why). */
  readonly ready: Promise<number | undefined>;
  private reaped = false;
  /** Whether the spawn is still in flight, and a signal asked for meanwhile. */
  private starting = true;
  private pendingSignal: NodeJS.Signals | number | undefined;
  private resolveReady!: (pid: number | undefined) => void;

  constructor() {
    super();
    this.ready = new Promise((resolve) => (this.resolveReady = resolve));
  }

  /** @internal the spawn completed: `pid` when it started, undefined when it failed. */
  started(pid: number | undefined): void {
    this.starting = false;
    this.pid = pid;
    this.resolveReady(pid);
    if (pid !== undefined && this.pendingSignal !== undefined) this.kill(this.pendingSignal);
  }

  get stdin(): Writable | null {
    return (this.stdio[0] as Writable | null | undefined) ?? null;
  }
  get stdout(): Readable | null {
    return (this.stdio[1] as Readable | null | undefined) ?? null;
  }
  get stderr(): Readable | null {
    return (this.stdio[2] as Readable | null | undefined) ?? null;
  }

  /** Sends a signal unless the child is already reaped (its pid may then belong to another process). */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.starting) {
      this.pendingSignal = signal; // sent as soon as the child exists
      return true;
    }
    if (this.pid === undefined || this.reaped) return false;
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /** Neither the child nor our pipe ends keep the event loop alive any more. */
  unref(): void {
    for (const s of this.stdio) (s as Socket | null)?.unref?.();
    this.referenced = false;
    updateWatch();
  }

  /** @internal whether the child keeps the event loop alive (as ChildProcess does until unref). */
  referenced = true;

  /** @internal the reaper saw the exit. */
  settle(code: number | null, signal: NodeJS.Signals | null): void {
    this.reaped = true;
    this.exitCode = code;
    this.signalCode = signal;
    this.emit('exit', code, signal);
    const outputs = this.stdio.filter((s, i) => i !== 0 && s !== null) as Readable[];
    let open = outputs.length;
    const closed = (): void => {
      if (--open === 0) this.emit('close', code, signal);
    };
    if (open === 0) this.emit('close', code, signal);
    for (const s of outputs) {
      if (s.destroyed || s.readableEnded) closed();
      else s.once('close', closed);
    }
  }
}

/** Children started here and not yet reaped, by pid. */
const live = new Map<number, SpawnedProcess>();
const siginfo = Buffer.alloc(SIGINFO_SIZE);
let listening = false;
/**
 * Signal handles never keep Node alive, so without a referenced handle a script whose child's pipes
 * closed would end before the SIGCHLD is handled. This timer is that handle while a referenced
 * child lives, and also polls once a second in case a SIGCHLD was coalesced away or lost.
 */
let watch: NodeJS.Timeout | undefined;
const POLL_MS = 1000;

function updateWatch(): void {
  if (live.size === 0) {
    if (watch) clearInterval(watch);
    watch = undefined;
    if (listening) {
      process.removeListener('SIGCHLD', reap);
      listening = false;
    }
    return;
  }
  if (!listening) {
    process.on('SIGCHLD', reap);
    listening = true;
  }
  watch ??= setInterval(reap, POLL_MS);
  const anyRef = [...live.values()].some((c) => c.referenced);
  if (anyRef) watch.ref();
  else watch.unref();
}

function reap(): void {
  for (const [pid, child] of live) {
    siginfo.fill(0);
    if (cWaitid(P_PID, pid, siginfo, WEXITED | WNOHANG) !== 0) {
      // ECHILD: someone else reaped it (waitpid(-1) elsewhere); report it gone rather than hang.
      live.delete(pid);
      child.settle(null, null);
      continue;
    }
    if (siginfo.readInt32LE(16) !== pid) continue; // still running
    live.delete(pid);
    const code = siginfo.readInt32LE(8);
    const status = siginfo.readInt32LE(24);
    if (code === CLD_EXITED) child.settle(status, null);
    else child.settle(null, signalName(status));
  }
  updateWatch();
}

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

function signalName(n: number): NodeJS.Signals | null {
  return SIGNAL_NAMES.get(n) ?? null;
}

/**
 * A copy of `fd`, ours until the spawn completed, at or above `min` so a dup2 onto a lower child fd
 * never overwrites another source. Always a copy: the spawn completes later, and the caller may
 * close its fd as soon as spawnProcess returns.
 */
function above(fd: number, min: number, owned: number[]): number {
  const hi = cFcntl(fd, F_DUPFD_CLOEXEC, min) as number;
  if (hi < 0) throw sysError('fcntl', koffi.errno());
  owned.push(hi);
  return hi;
}

const ENOENT = 2;
const EIO = 5;

/**
 * Starts `file` (a path, or a name looked up in the child's PATH as child_process does) with argv
 * [file as given, ...args]. Throws for bad arguments; an exec failure (ENOENT, EACCES) is an
 * 'error' event, as with child_process.spawn.
 */
export function spawnProcess(file: string, args: readonly string[], opts: SpawnOptions = {}): SpawnedProcess {
  const child = new SpawnedProcess();
  const path = which(file, [], (opts.env ?? process.env).PATH);
  if (!path) {
    child.started(undefined);
    process.nextTick(() => child.emit('error', sysError(`spawn ${file}`, ENOENT, file)));
    return child;
  }
  const specs = opts.stdio ?? ['ignore', 'ignore', 'ignore'];
  const actions = Buffer.alloc(ACTIONS_SIZE);
  const attr = Buffer.alloc(ATTR_SIZE);
  const toClose: number[] = []; // child ends and temporary dups: closed in the parent after the spawn
  const ours: (number | null)[] = []; // our pipe ends, by child fd
  cActionsInit(actions);
  cAttrInit(attr);
  try {
    for (let i = 0; i < specs.length; i++) {
      const spec = specs[i]!;
      if (spec === 'ignore') {
        cActionsOpen(actions, i, '/dev/null', O_RDWR, 0);
        ours.push(null);
      } else if (spec === 'pipe') {
        const fds = [0, 0];
        if (cPipe2(fds, O_CLOEXEC) !== 0) throw sysError('pipe2', koffi.errno());
        const [r, w] = fds as [number, number];
        const childEnd = i === 0 ? r : w;
        toClose.push(childEnd);
        ours.push(i === 0 ? w : r);
        cActionsDup2(actions, above(childEnd, specs.length, toClose), i);
      } else {
        cActionsDup2(actions, above(spec, specs.length, toClose), i);
        ours.push(null);
      }
    }
    if (opts.cwd) cActionsChdir(actions, opts.cwd);
    // The child starts with no blocked signals and default dispositions: Node ignores SIGPIPE,
    // which a child would otherwise inherit across exec.
    const empty = Buffer.alloc(SIGSET_SIZE);
    const all = Buffer.alloc(SIGSET_SIZE);
    cSigEmptySet(empty);
    cSigFillSet(all);
    cAttrSetSigMask(attr, empty);
    cAttrSetSigDefault(attr, all);
    cAttrSetFlags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | (opts.detached ? POSIX_SPAWN_SETSID : 0));

    const env = Object.entries(opts.env ?? process.env)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${v}`);
    for (const s of [file, ...args, ...env]) if (s.includes('\0')) throw Object.assign(new TypeError(`spawn ${file}: NUL byte in an argument or the environment`), { code: 'ERR_INVALID_ARG_VALUE' });
    // Our ends are streams at once, so callers can listen before the child exists.
    ours.forEach((fd, i) => {
      if (fd === null) {
        child.stdio.push(null);
        return;
      }
      const s = new Socket({ fd, readable: i !== 0, writable: i === 0 });
      if (i === 0) s.on('error', () => undefined); // EPIPE when the child exits without reading
      child.stdio.push(s);
    });
    // Listen before the child exists: its SIGCHLD may come before we know its pid.
    if (!listening) {
      process.on('SIGCHLD', reap);
      listening = true;
    }
    const pid = [0];
    const done = (rc: number): void => {
      for (const fd of toClose) cClose(fd);
      cActionsDestroy(actions);
      cAttrDestroy(attr);
      if (rc !== 0) {
        for (const s of child.stdio) (s as Socket | null)?.destroy();
        child.started(undefined);
        child.emit('error', sysError(`spawn ${file}`, rc, file));
        updateWatch(); // drops the SIGCHLD listener again when nothing else lives
        return;
      }
      live.set(pid[0]!, child);
      child.started(pid[0]!);
      updateWatch();
      // A child that exited before we listened for it: its SIGCHLD is already counted.
      setImmediate(reap);
    };
    cSpawn.async(pid, path, actions, attr, [file, ...args, null], [...env, null], (e: Error | null, rc: number) => done(e ? EIO : rc));
    return child;
  } catch (e) {
    // Nothing was started: undo what was set up (after a started spawn, `done` does this).
    for (const fd of toClose) cClose(fd);
    for (const fd of ours) if (fd !== null) cClose(fd);
    cActionsDestroy(actions);
    cAttrDestroy(attr);
    throw e;
  }
}
