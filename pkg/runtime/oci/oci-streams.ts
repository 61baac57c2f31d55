// Streaming exec/attach/port-forward for namespace containers (runc + conmon); the OCI task runtime
// and pod controller serve CRI Exec/Attach/PortForward through it.
//
// exec: `runc exec` as our child. Without a tty its stdio are our pipes (runc hands them to
//   the process). With a tty, runc allocates the container's pty itself and copies between
//   it and its own stdio, propagating its stdin's window size on SIGWINCH; so we run runc on a
//   pty of our own (openpty via koffi) and resize = set our pty's size + SIGWINCH to runc.
//   This is CRI-O's approach; it avoids receiving the pty master over --console-socket
//   (SCM_RIGHTS, which Node cannot receive). `--pid-file` gives us the process to kill when
//   the client vanishes.
// attach: conmon's attach socket (SOCK_SEQPACKET; each packet from conmon is prefixed with
//   the pipe: 2 stdout, 3 stderr; what we send is raw stdin) and its ctl FIFO for resize
//   ("1 <rows> <cols>\n"). Detaching closes only our socket.
// portForward: a TCP socket created inside the pod's network namespace (setns around socket(),
//   see native.ts), wrapped as a net.Socket and connected to 127.0.0.1:<port> there: no helper
//   process per connection, real half-close, and ECONNREFUSED as an ordinary error.
import { spawnProcess, type SpawnedProcess } from '../../sys/spawn.js';
import { closeSync, constants as fsc, openSync, writeSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { PassThrough, Writable, type Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { ProcessStdio, StdioOptions } from '../task-runtime.js';
import { connectSeqpacket, openPty, setWindowSize, tcpSocketInNetns } from './stream-native.js';

/**
 * Where a container's streams are: runtime binary/root for `runc exec`, conmon's attach socket and
 * ctl FIFO. The attach socket path can exceed sun_path (108 bytes): it is connected via
 * `/proc/self/fd/<dirfd>/attach` after opening its directory. The ctl FIFO takes
 * "1 <height> <width>\n" (resize).
 */
export interface OciStreamTarget {
  id: string;
  podId: string;
  bundleDir: string;
  runtimePath: string;
  runtimeRoot: string;
  attachSocketPath: string;
  ctlPath: string;
  tty: boolean;
  stdin: boolean;
  stdinOnce?: boolean;
}

const ATTACH_PIPE_STDOUT = 2;
const ATTACH_PIPE_STDERR = 3;
/** conmon reads stdin packets into an 8 KiB buffer (CONN_SOCK_BUF_SIZE is larger; stay safe). */
const ATTACH_STDIN_PACKET = 8192;

export class OciStreams {
  constructor(private readonly log: Logger) {}

  async exec(t: OciStreamTarget, cmd: string[], opts: StdioOptions): Promise<ProcessStdio> {
    const log = this.log.child({ containerId: t.id, podId: t.podId });
    const pidFile = join(t.bundleDir, `exec-stream-${randomBytes(6).toString('hex')}.pid`);
    const args = ['--root', t.runtimeRoot, 'exec', '--pid-file', pidFile, ...(opts.tty ? ['--tty'] : []), t.id, ...cmd];
    let child: SpawnedProcess;
    let stdio: Pick<ProcessStdio, 'stdin' | 'stdout' | 'stderr' | 'resize'>;
    if (opts.tty) {
      const pty = openPty();
      try {
        child = spawnProcess(t.runtimePath, args, { stdio: [pty.slaveFd, pty.slaveFd, pty.slaveFd], detached: true });
      } finally {
        closeSync(pty.slaveFd);
      }
      pty.master.on('error', () => undefined); // EIO once runc (the last slave holder) exits
      const master = pty.master;
      stdio = {
        stdout: master,
        // Ending stdin must not close the terminal: it is also our output.
        stdin: opts.stdin
          ? new Writable({
              write: (chunk: Buffer, _e, cb) => (master.destroyed ? cb() : master.write(chunk, () => cb())),
            })
          : undefined,
        resize: (w, h) => {
          try {
            setWindowSize(pty.masterFd, w, h);
            if (child.pid && child.exitCode === null) process.kill(child.pid, 'SIGWINCH');
          } catch (e) {
            log.debug({ err: e }, 'resize failed');
          }
        },
      };
    } else {
      child = spawnProcess(t.runtimePath, args, { stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
      stdio = { stdin: child.stdin ?? undefined, stdout: child.stdout ?? undefined, stderr: child.stderr ?? undefined };
      child.stdin?.on('error', () => undefined);
    }
    const exited = new Promise<{ exitCode: number }>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        void rm(pidFile, { force: true });
        resolve({ exitCode: code ?? (signal ? 128 + signalNumber(signal) : 1) });
      });
    });
    log.info({ cmd, tty: opts.tty, runcPid: await child.ready }, 'exec started');
    return {
      ...stdio,
      wait: () => exited,
      kill: () => void killExec(child, pidFile, log),
    };
  }

  async attach(t: OciStreamTarget, opts: StdioOptions): Promise<ProcessStdio> {
    const log = this.log.child({ containerId: t.id, podId: t.podId });
    const sock = connectSeqpacket(t.attachSocketPath);
    sock.on('error', (e) => log.debug({ err: e }, 'attach socket error'));
    const stdout = new PassThrough({ highWaterMark: 256 * 1024 });
    const stderr = new PassThrough({ highWaterMark: 256 * 1024 });
    const resume = (): void => void sock.resume();
    stdout.on('drain', resume);
    stderr.on('drain', resume);
    sock.on('data', (pkt: Buffer) => {
      if (log.isLevelEnabled('trace')) log.trace({ pipe: pkt[0], bytes: pkt.length - 1 }, 'attach packet');
      const dst = pkt[0] === ATTACH_PIPE_STDOUT ? stdout : pkt[0] === ATTACH_PIPE_STDERR ? (opts.tty ? stdout : stderr) : undefined;
      if (dst && pkt.length > 1 && !dst.write(pkt.subarray(1))) sock.pause();
    });
    let detach: () => void = () => undefined;
    const over = new Promise<Record<string, never>>((resolve) => {
      const end = (): void => {
        log.debug('attach socket closed');
        stdout.end();
        stderr.end();
        resolve({});
      };
      sock.once('close', end);
      sock.once('end', end);
      detach = () => {
        sock.destroy();
        end();
      };
    });
    const stdin = opts.stdin
      ? new Writable({
          write: (chunk: Buffer, _e, cb) => {
            if (sock.destroyed) return cb();
            for (let off = 0; off < chunk.length; off += ATTACH_STDIN_PACKET) {
              const last = off + ATTACH_STDIN_PACKET >= chunk.length;
              sock.write(chunk.subarray(off, off + ATTACH_STDIN_PACKET), last ? () => cb() : undefined);
            }
          },
          final: (cb) => {
            // conmon closes the container's stdin on our half-close unless it was started with
            // --leave-stdin-open (stdin without stdin_once); kubelet then treats the end of
            // the client's stdin as a detach.
            if (!sock.destroyed) sock.end();
            if (!t.stdinOnce) setImmediate(detach);
            cb();
          },
        })
      : undefined;
    log.info({ tty: opts.tty }, 'attached');
    return {
      stdin,
      stdout: opts.stdout ? stdout : drainAndReturn(stdout),
      stderr: opts.stderr && !opts.tty ? stderr : drainAndReturn(stderr),
      resize: (w, h) => {
        let fd: number | undefined;
        try {
          fd = openSync(t.ctlPath, fsc.O_WRONLY | fsc.O_NONBLOCK);
          writeSync(fd, `1 ${h} ${w}\n`);
        } catch (e) {
          log.debug({ err: e }, 'attach resize failed');
        } finally {
          if (fd !== undefined) closeSync(fd);
        }
      },
      wait: () => over,
      kill: () => detach(),
    };
  }

  /** A TCP stream to 127.0.0.1:port in netns (the host's for host-network pods). */
  async portForward(netns: string | undefined, port: number): Promise<Duplex> {
    // manualStart: do not start reading before connect() (Node's option for pre-made handles).
    const opts = { allowHalfOpen: true, manualStart: true } as net.SocketConstructorOpts;
    const sock = netns ? new net.Socket({ ...opts, fd: tcpSocketInNetns(netns), readable: true, writable: true }) : new net.Socket({ allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', () => {
        sock.off('error', reject);
        resolve();
      });
      sock.once('error', reject);
      sock.connect(port, '127.0.0.1');
    });
    return sock;
  }
}

async function killExec(child: SpawnedProcess, pidFile: string, log: Logger): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim()); // no pid file yet: runc itself is killed below
  if (pid > 0) {
    try {
      process.kill(pid, 'SIGKILL'); // runc then exits with the process
      log.info({ pid }, 'killed exec process of a vanished client');
      return;
    } catch {
      /* already gone */
    }
  }
  child.kill('SIGKILL');
}

function signalNumber(sig: NodeJS.Signals): number {
  const n = (os.constants.signals as Record<string, number>)[sig];
  return n ?? 0;
}

function drainAndReturn(s: PassThrough): undefined {
  s.resume();
  return undefined;
}

