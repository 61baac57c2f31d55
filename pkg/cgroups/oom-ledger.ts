// Whether an exited container was OOM-killed when its own cgroup is already gone.
//
// With the systemd driver runc's container cgroup is a transient scope, and systemd removes an
// emptied scope's cgroup, memory.events with it, within milliseconds of its last process dying:
// on a quiet test node that was before conmon wrote the exit file, so neither conmon's inotify
// watch nor Bulkhead's read at exit saw oom_kill (reason Error, exit 137). A live watch does not
// close the gap either: the kernel rate-limits memory.events notifications to one per 20 ms
// (CGROUP_FILE_NOTIFY_MIN_INTV) and drops the pending one when the cgroup is removed.
//
// What survives is the parent's counter: cgroup v2 memory.events is hierarchical, so the kill
// counted in the scope is also counted in the pod slice, which lives until the pod is removed.
// The ledger keeps, per parent, a baseline taken when each container starts (the parent's
// oom_kill and every sibling's), and at exit attributes to the container the kills its siblings
// (alive: read; exited: settled; removed: retired) do not explain.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** A cgroup dir's memory.events oom_kill; undefined when the file is gone (or not v2). */
export type OomKillReader = (cgroupDir: string) => number | undefined;

export function readOomKills(cgroupDir: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(join(cgroupDir, 'memory.events'), 'utf8');
  } catch {
    return undefined;
  }
  const m = /^oom_kill (\d+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

interface Baseline {
  parent: number;
  retired: number;
  siblings: Map<string, number>;
}

interface Member {
  dir: string;
  base: Baseline;
  /** The last count read from the container's own cgroup. */
  lastSeen: number;
  /** Set once the container exited: its OOM kills, own or attributed. */
  settled?: number;
}

interface Parent {
  members: Map<string, Member>;
  /** Kills of members removed from the ledger (so earlier-started siblings still see them). */
  retired: number;
}

export class OomLedger {
  private readonly parents = new Map<string, Parent>();
  private readonly parentOf = new Map<string, string>();
  /** Tried and not trackable (v1, parent gone): not tried again on every state query. */
  private readonly untrackable = new Set<string>();

  constructor(private readonly read: OomKillReader = readOomKills) {}

  /**
   * Baselines for a container whose cgroup exists and whose process has not run yet (call between
   * create and start: a kill before the baseline would be missed). A no-op without a readable
   * parent memory.events (cgroup v1, where nothing removes the cgroup before runc delete).
   */
  track(id: string, cgroupDir: string): void {
    this.forget(id);
    const parentDir = dirname(cgroupDir);
    const parentKills = this.read(parentDir);
    if (parentKills === undefined) {
      this.untrackable.add(id);
      return;
    }
    let p = this.parents.get(parentDir);
    if (!p) this.parents.set(parentDir, (p = { members: new Map(), retired: 0 }));
    const siblings = new Map<string, number>();
    for (const [sid, s] of p.members) siblings.set(sid, this.killsOf(s));
    p.members.set(id, { dir: cgroupDir, base: { parent: parentKills, retired: p.retired, siblings }, lastSeen: this.read(cgroupDir) ?? 0 });
    this.parentOf.set(id, parentDir);
  }

  /**
   * Whether the exited container saw an OOM kill: its own cgroup's count while that still exists,
   * else the parent's growth since its start minus what its siblings account for. Settled on the
   * first call. undefined for containers the ledger does not track.
   */
  exitedOomKilled(id: string): boolean | undefined {
    const parentDir = this.parentOf.get(id);
    const p = parentDir === undefined ? undefined : this.parents.get(parentDir);
    const m = p?.members.get(id);
    if (!p || !m || parentDir === undefined) return undefined;
    if (m.settled === undefined) m.settled = this.settle(parentDir, p, id, m);
    return m.settled > 0;
  }

  /** Drops a removed container; its kills stay counted for the siblings that started before it. */
  forget(id: string): void {
    this.untrackable.delete(id);
    const parentDir = this.parentOf.get(id);
    if (parentDir === undefined) return;
    this.parentOf.delete(id);
    const p = this.parents.get(parentDir);
    const m = p?.members.get(id);
    if (!p || !m) return;
    p.retired += this.killsOf(m);
    p.members.delete(id);
    if (p.members.size === 0) this.parents.delete(parentDir);
  }

  has(id: string): boolean {
    return this.parentOf.has(id) || this.untrackable.has(id);
  }

  get size(): number {
    return this.parentOf.size + this.untrackable.size;
  }

  private settle(parentDir: string, p: Parent, id: string, m: Member): number {
    const own = this.read(m.dir);
    if (own !== undefined) return own;
    const parentNow = this.read(parentDir);
    if (parentNow === undefined) return m.lastSeen;
    let explained = p.retired - m.base.retired;
    for (const [sid, s] of p.members) if (sid !== id) explained += this.killsOf(s) - (m.base.siblings.get(sid) ?? 0);
    // The rest are this container's kills. A sibling that exited unsettled counts only its last
    // read (a lower bound), so its kill lands here too; taking at most one kill beyond our own last
    // read (the process whose death emptied the scope) leaves that sibling its own when it settles
    // (two containers OOM-killed together by a pod-level limit).
    const unexplained = parentNow - m.base.parent - explained;
    return Math.max(m.lastSeen, Math.min(unexplained, m.lastSeen + 1));
  }

  private killsOf(m: Member): number {
    if (m.settled !== undefined) return m.settled;
    const now = this.read(m.dir);
    if (now !== undefined) m.lastSeen = now;
    return m.lastSeen;
  }
}
