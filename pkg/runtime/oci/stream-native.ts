// The few libc calls Node lacks for streaming: pseudo-terminals (openpty, TIOCSWINSZ) and
// SOCK_SEQPACKET unix sockets (conmon's attach socket). Bound lazily with koffi.
import koffi from 'koffi';
import net from 'node:net';
import tty from 'node:tty';
import { closeSync, openSync, constants as fsc } from 'node:fs';
import { basename, dirname } from 'node:path';

const TIOCSWINSZ = 0x5414;
const AF_UNIX = 1;
const SOCK_SEQPACKET = 5;
const SOCK_CLOEXEC = 0o2000000;
const SUN_PATH_MAX = 107;

interface Libc {
  openpty: (m: number[], s: number[], name: null, termp: null, winp: null) => number;
  ioctl: (fd: number, req: number, type: string, arg: Buffer) => number;
  socket: (domain: number, type: number, proto: number) => number;
  connect: (fd: number, addr: Buffer, len: number) => number;
  close: (fd: number) => number;
  strerror: (errnum: number) => string;
  setns: (fd: number, nstype: number) => number;
}

let libc: Libc | undefined;
function lib(): Libc {
  if (!libc) {
    const l = koffi.load('libc.so.6');
    libc = {
      openpty: l.func('int openpty(_Out_ int *amaster, _Out_ int *aslave, void *name, void *termp, void *winp)') as Libc['openpty'],
      ioctl: l.func('int ioctl(int fd, unsigned long req, ...)') as Libc['ioctl'],
      socket: l.func('int socket(int domain, int type, int protocol)') as Libc['socket'],
      connect: l.func('int connect(int fd, void *addr, uint32_t len)') as Libc['connect'],
      close: l.func('int close(int fd)') as Libc['close'],
      strerror: l.func('const char *strerror(int errnum)') as Libc['strerror'],
      setns: l.func('int setns(int fd, int nstype)') as Libc['setns'],
    };
  }
  return libc;
}

function errnoError(what: string): Error {
  const errno = koffi.errno();
  const e = new Error(`${what}: ${lib().strerror(errno)}`) as NodeJS.ErrnoException;
  e.errno = errno;
  return e;
}

export interface Pty {
  /** Master side as a Node stream (read: terminal output; write: terminal input). */
  master: tty.ReadStream;
  masterFd: number;
  /** Slave fd for the child's stdio; close it in the parent once the child has it. */
  slaveFd: number;
}

export function openPty(cols = 80, rows = 24): Pty {
  const m = [0];
  const s = [0];
  if (lib().openpty(m, s, null, null, null) !== 0) throw errnoError('openpty');
  const masterFd = m[0]!;
  setWindowSize(masterFd, cols, rows);
  // A tty.ReadStream on the master: libuv uses the fd as is (it only reopens slave ptys), and
  // the stream is a net.Socket, so it is writable too.
  const master = new tty.ReadStream(masterFd);
  return { master, masterFd, slaveFd: s[0]! };
}

export function setWindowSize(fd: number, cols: number, rows: number): void {
  const ws = Buffer.alloc(8);
  ws.writeUInt16LE(Math.max(0, Math.min(rows, 0xffff)), 0);
  ws.writeUInt16LE(Math.max(0, Math.min(cols, 0xffff)), 2);
  if (lib().ioctl(fd, TIOCSWINSZ, 'uint8_t *', ws) !== 0) throw errnoError('ioctl(TIOCSWINSZ)');
}

interface PipeWrapBinding {
  Pipe: new (type: number) => { open(fd: number): number };
  constants: { SOCKET: number };
}

/**
 * Connects a SOCK_SEQPACKET unix socket and wraps it as a net.Socket. Node cannot create
 * seqpacket sockets, and libuv's fd type guess does not know them, so the connected fd is
 * opened as a pipe handle directly: reads then return one packet each (each 'data' event is
 * one packet, up to 64 KiB), which conmon's 1-byte stream prefix needs.
 */
export function connectSeqpacket(path: string): net.Socket {
  const c = lib();
  // sun_path holds 107 bytes; reach longer paths through the directory's /proc/self/fd entry.
  let dirFd: number | undefined;
  let target = path;
  if (Buffer.byteLength(path) > SUN_PATH_MAX) {
    dirFd = openSync(dirname(path), fsc.O_RDONLY | fsc.O_DIRECTORY);
    target = `/proc/self/fd/${dirFd}/${basename(path)}`;
  }
  try {
    const fd = c.socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) throw errnoError('socket(AF_UNIX, SOCK_SEQPACKET)');
    const addr = Buffer.alloc(110);
    addr.writeUInt16LE(AF_UNIX, 0);
    addr.write(target, 2);
    if (c.connect(fd, addr, 2 + Buffer.byteLength(target) + 1) !== 0) {
      const e = errnoError(`connect ${path}`);
      c.close(fd);
      throw e;
    }
    const { Pipe, constants } = (process as unknown as { binding(name: string): PipeWrapBinding }).binding('pipe_wrap');
    const handle = new Pipe(constants.SOCKET);
    const rc = handle.open(fd);
    if (rc !== 0) {
      c.close(fd);
      throw new Error(`wrapping seqpacket fd failed (${rc})`);
    }
    return new net.Socket({ handle, readable: true, writable: true } as net.SocketConstructorOpts);
  } finally {
    if (dirFd !== undefined) closeSync(dirFd);
  }
}

const CLONE_NEWNET = 0x40000000;
const AF_INET = 2;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;

/**
 * Creates a TCP socket that belongs to another network namespace. A socket keeps the netns it
 * was created in, so the calling (main) thread enters the namespace just for socket() and
 * returns at once; nothing else runs in between (it is all synchronous), and libuv's other
 * threads never switch. The fd can then be wrapped (new net.Socket({ fd })) and connected.
 */
export function tcpSocketInNetns(netnsPath: string): number {
  const c = lib();
  const own = openSync('/proc/thread-self/ns/net', fsc.O_RDONLY);
  let target: number | undefined;
  try {
    target = openSync(netnsPath, fsc.O_RDONLY);
    if (c.setns(target, CLONE_NEWNET) !== 0) throw errnoError(`setns ${netnsPath}`);
    let fd = -1;
    let socketErr: Error | undefined;
    try {
      fd = c.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) socketErr = errnoError('socket(AF_INET)');
    } finally {
      if (c.setns(own, CLONE_NEWNET) !== 0) {
        // Staying in a pod's namespace would silently break every later socket of the daemon.
        process.stderr.write(`fatal: cannot return to the daemon's network namespace: ${lib().strerror(koffi.errno())}\n`);
        process.exit(70);
      }
    }
    if (socketErr) throw socketErr;
    return fd;
  } finally {
    closeSync(own);
    if (target !== undefined) closeSync(target);
  }
}
