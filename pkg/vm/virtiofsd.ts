// One virtiofsd per VM boot (the C virtiofsd of QEMU 7.2 serves one connection and exits when the VM
// closes it). It runs sandbox=namespace: once QEMU connects it forks a worker into new mount, pid and
// net namespaces and pivot_roots into the shared dir, so a guest that subverts it sees only the share.
// Bind mounts the daemon adds later (container rootfs, volumes) still reach it: the shared dir is a
// slave of the host's staging tree (pkg/runtime/vm/guest-share.ts) and its copy in the worker's
// namespace stays one. The worker dies with the process we track (PR_SET_PDEATHSIG). Cost: +0.34 MiB
// PSS per pod (two processes: 1255 kB against 917 kB with sandbox=chroot). xattr stays on: image file
// capabilities (security.capability) live in xattrs, and the guest can reach only its own rootfs and
// volumes through it (the share view is read-only).
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { isSameProcessAlive, procStartTime } from '../sys/proc.js';
import { spawnProcess, type SpawnedProcess } from '../sys/spawn.js';

export const VIRTIOFSD_PATH = '/usr/lib/qemu/virtiofsd';
/**
 * Where a virtiofsd is looked for when the handler names none: the C one QEMU <= 7.2 ships, then the
 * Rust one (Debian's virtiofsd package, then the one deploy/install.sh builds from crates.io; QEMU >= 8
 * ships none). The Rust one takes the same -o options (deprecated, still accepted in 1.14).
 */
export const VIRTIOFSD_CANDIDATES = [VIRTIOFSD_PATH, '/usr/libexec/virtiofsd', '/var/cache/bulkhead-tools/virtiofsd/bin/virtiofsd'];

export function defaultVirtiofsdPath(): string {
  return VIRTIOFSD_CANDIDATES.find((p) => existsSync(p)) ?? VIRTIOFSD_PATH;
}

export interface Virtiofsd {
  pid: number;
  socket: string;
  exited: Promise<void>;
  /** Still running (an adopted one is polled every 200 ms: this answers now). */
  alive(): boolean;
  kill(): void;
}

/**
 * A virtiofsd started by an earlier daemon (pid from its pidfile). It counts as alive only while
 * that pid still runs a virtiofsd serving this socket: a missing/empty pidfile (pid 0 would signal
 * our own process group) or a reused pid never gets a signal from us.
 */
export function adoptVirtiofsd(pid: number, socket: string): Virtiofsd {
  // Identity once (argv names this socket), then pid + start time: one /proc read per poll.
  let startTime: string | undefined;
  try {
    if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(`--socket-path=${socket}`)) startTime = procStartTime(pid);
  } catch {
    /* gone */
  }
  const alive = (): boolean => startTime !== undefined && isSameProcessAlive(pid, startTime);
  const exited = (async () => {
    while (alive()) await sleep(200);
  })();
  return {
    pid,
    socket,
    exited,
    alive,
    kill: () => {
      if (alive()) process.kill(pid, 'SIGKILL');
    },
  };
}

export async function startVirtiofsd(opts: { sharedDir: string; socket: string; logFile: string; path?: string }): Promise<Virtiofsd> {
  rmSync(opts.socket, { force: true });
  const log = openSync(opts.logFile, 'a');
  // posix_spawn (pkg/sys/spawn.ts): no fork of the daemon, whose page-table copy blocks the event loop.
  const child: SpawnedProcess = spawnProcess(
    opts.path ?? defaultVirtiofsdPath(),
    [`--socket-path=${opts.socket}`, '-o', `source=${opts.sharedDir}`, '-o', 'cache=auto', '-o', 'sandbox=namespace', '-o', 'xattr'],
    { detached: true, stdio: ['ignore', log, log] },
  );
  closeSync(log);
  child.unref();
  let spawnError: Error | undefined;
  child.on('error', (e) => (spawnError = e));
  const pid = await child.ready;
  if (!pid) throw new Error(`cannot spawn virtiofsd: ${spawnError?.message ?? 'unknown error'}`);
  let dead = false;
  const exited = new Promise<void>((r) => child.once('exit', () => ((dead = true), r())));
  for (let i = 0; i < 250 && !existsSync(opts.socket); i++) {
    if (dead) throw new Error(`virtiofsd exited at start (see ${opts.logFile})`);
    await sleep(20);
  }
  if (!existsSync(opts.socket)) {
    process.kill(pid, 'SIGKILL');
    throw new Error('virtiofsd did not create its socket');
  }
  return {
    pid,
    socket: opts.socket,
    exited,
    alive: () => !dead,
    kill: () => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    },
  };
}
