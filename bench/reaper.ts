// Makes the bench a child subreaper (prctl(2) PR_SET_CHILD_SUBREAPER) so that the per-pod helpers a
// runtime daemonizes (conmon double-forks, containerd's shim is started by `shim start`, which
// exits) are re-parented to the bench instead of init: when such a helper exits it stays a zombie
// of ours, and its /proc/<pid>/stat still shows its final CPU counters — its own and those of
// every child it reaped (runc, pause, the workload) — until we reap it. Without this their CPU is
// lost when init reaps them, and a shim's or conmon's whole life is a per-pod cost.
//
// Only orphans are reaped here, by pid: libuv reaps the children the bench spawned itself (the
// daemons) with waitpid per pid, and stealing one of those would hang its 'exit'.
import koffi from 'koffi';
import { childrenOf, type ProcStat } from './proc-stat.js';

const libc = koffi.load('libc.so.6');
const cPrctl = libc.func('int prctl(int option, ...)');
const cWaitpid = libc.func('int waitpid(int pid, void *status, int options)');
const PR_SET_CHILD_SUBREAPER = 36;
const WNOHANG = 1;

function setSubreaper(on: boolean): void {
  const z = ['unsigned long', 0];
  if (cPrctl(PR_SET_CHILD_SUBREAPER, 'unsigned long', on ? 1 : 0, ...z, ...z, ...z) !== 0) {
    throw new Error(`prctl(PR_SET_CHILD_SUBREAPER): errno ${koffi.errno()}`);
  }
}

export interface OrphanCpu {
  /** Clock ticks (self + reaped children) of the orphans that ended in the window, and the CPU
   *  the still-running ones used since it began. */
  ticks: number;
  /** Orphans that exited (reaped now) and ones still running at the end. */
  exited: number;
  running: number;
  /** comm → how many (what the helpers were). */
  comms: Record<string, number>;
}

const total = (s: ProcStat) => s.selfTicks + s.childTicks;

/** Orphans re-parented to the bench, windowed: begin() before some work, end() after it. */
export class OrphanCollector {
  private baseline = new Map<number, number>();
  private on = false;
  /** Children the bench had before enable(): spawned by itself (daemons, a --strace), not orphans. */
  private before = new Set<number>();

  /** @param ownChildren pids the bench spawned itself (daemons, strace): never counted or reaped. */
  constructor(private readonly ownChildren: () => number[]) {}

  enable(): void {
    this.before = new Set(childrenOf(process.pid).map((p) => p.pid));
    setSubreaper(true);
    this.on = true;
  }

  /** Stops adopting; orphans adopted so far stay ours (reaped by end() or left as zombies until the bench exits). */
  disable(): void {
    if (!this.on) return;
    setSubreaper(false);
    this.on = false;
  }

  private orphans(): ProcStat[] {
    const own = new Set([...this.ownChildren(), ...this.before]);
    return childrenOf(process.pid).filter((p) => !own.has(p.pid));
  }

  /** Starts a window: reaps (and returns the count of) zombies left from before, notes the running orphans' CPU so far. */
  begin(): number {
    let stale = 0;
    this.baseline = new Map();
    for (const p of this.orphans()) {
      if (p.state === 'Z') {
        cWaitpid(p.pid, null, WNOHANG);
        stale++;
      } else this.baseline.set(p.pid, total(p));
    }
    return stale;
  }

  /** Ends the window: the CPU of every orphan since begin(), reaping the ones that exited. */
  end(): OrphanCpu {
    const out: OrphanCpu = { ticks: 0, exited: 0, running: 0, comms: {} };
    for (const p of this.orphans()) {
      out.ticks += total(p) - (this.baseline.get(p.pid) ?? 0);
      out.comms[p.comm] = (out.comms[p.comm] ?? 0) + 1;
      if (p.state === 'Z') {
        cWaitpid(p.pid, null, WNOHANG);
        out.exited++;
      } else out.running++;
    }
    return out;
  }
}
