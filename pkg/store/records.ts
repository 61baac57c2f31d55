// Persisted pod sandbox and container records. Each record lives in its own directory
// (<root>/pods/<id>/sandbox.json, <root>/containers/<id>/container.json) and is written
// atomically before an RPC acknowledges. `phase: 'creating'` marks an intent record: written
// before any side effect, so a create interrupted by a crash is rolled back at start-up.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type * as cri from '../api/cri-types.js';
import { readJson, writeJsonAtomic } from './atomic-file.js';

export type Phase = 'creating' | 'created' | 'removing';

export interface SandboxNamespaces {
  net?: string;
  ipc?: string;
  uts?: string;
  /** The pinned user namespace of a pod with userns_options mode POD. */
  user?: string;
  /** /proc/<infraPid>/ns/pid when the pod has a pod-level PID namespace. */
  pid?: string;
}

export interface SandboxRecord {
  id: string;
  nameKey: string;
  phase: Phase;
  handler: string;
  config: cri.PodSandboxConfig__Output;
  createdAt: string;
  state: 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
  /** Persistent dir (<root>/pods/<id>) and volatile dir (<state>/pods/<id>). */
  dir: string;
  stateDir: string;
  namespaces: SandboxNamespaces;
  cgroupParent: string;
  /** True when we picked the pod cgroup (no cgroup_parent from kubelet): we remove it. */
  cgroupOwned: boolean;
  /** Infra (catatonit -P) container, only with a pod-level PID namespace. */
  infra?: { id: string; pid: number; conmonPid: number; bundleDir: string; startTime?: string };
  files: { hostname?: string; resolvConf?: string; hosts?: string; shm?: string };
  network: {
    ips: string[];
    /** Set while CNI teardown still has to succeed (retried by stop/remove). */
    pendingTeardown: boolean;
    hostNetwork: boolean;
  };
}

export type ContainerStateName = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';

export interface ContainerRecord {
  id: string;
  podId: string;
  nameKey: string;
  phase: Phase;
  handler: string;
  config: cri.ContainerConfig__Output;
  imageId: string;
  imageRef: string;
  imageName: string;
  createdAt: string;
  startedAt: string;
  finishedAt: string;
  state: ContainerStateName;
  exitCode: number;
  reason: string;
  message: string;
  pid: number;
  /** Process start time (clock ticks, /proc/<pid>/stat field 22): pids wrap, this does not. */
  pidStartTime?: string;
  conmonPid: number;
  dir: string;
  bundleDir: string;
  rootfs: string;
  /** cgroupfs path handed to runc (<pod cgroup>/<id>). */
  cgroupsPath: string;
  logPath: string;
  leaseId: string;
  stopSignal: string;
  /** OCI LinuxResources currently applied (for status and updates). */
  resources?: cri.LinuxContainerResources__Output;
  user?: { uid: number; gid: number; additionalGids: number[] };
  tty: boolean;
  stdin: boolean;
  stdinOnce: boolean;
}

export class RecordStore<T extends { id: string }> {
  constructor(
    readonly baseDir: string,
    private readonly fileName: string,
  ) {}

  dirOf(id: string): string {
    return join(this.baseDir, id);
  }

  /**
   * Ids removed in this process. Ids are random and never reused, so a save() arriving after
   * remove() (a StopPodSandbox queued behind RemovePodSandbox, a late exit refresh) must not
   * write the record again: it would bring a removed pod or container back at the next start.
   */
  private readonly removed = new Set<string>();
  private readonly saving = new Map<string, Promise<void>>();

  async save(rec: T): Promise<void> {
    if (this.removed.has(rec.id)) return;
    const prev = this.saving.get(rec.id) ?? Promise.resolve();
    const p = prev.then(() => (this.removed.has(rec.id) ? undefined : writeJsonAtomic(join(this.dirOf(rec.id), this.fileName), rec)));
    const settled = p.catch(() => undefined); // the chain only orders writes of one record; each caller sees its own rejection
    this.saving.set(rec.id, settled);
    try {
      await p;
    } finally {
      if (this.saving.get(rec.id) === settled) this.saving.delete(rec.id);
    }
  }

  async remove(id: string): Promise<void> {
    this.removed.add(id);
    await this.saving.get(id); // a write already under way finishes before the directory goes
    await rm(this.dirOf(id), { recursive: true, force: true });
  }

  async loadAll(): Promise<{ records: T[]; orphans: string[] }> {
    let names: string[] = [];
    try {
      names = await readdir(this.baseDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const records: T[] = [];
    const orphans: string[] = [];
    for (const n of names) {
      if (!/^[0-9a-f]{64}$/.test(n)) continue;
      const rec = await readJson<T>(join(this.baseDir, n, this.fileName)).catch(() => undefined); // an unreadable record is reported as an orphan below
      if (rec) records.push(rec);
      else orphans.push(n);
    }
    return { records, orphans };
  }
}
