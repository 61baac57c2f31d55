// A fake PodRuntime (controller + task runtime) that runs nothing: pods and containers are
// entries in maps, every call is journaled, failures can be armed per method, containers "run"
// until the test (or a stop) makes them exit with a code, and ExecSync answers what the test scripts.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Duplex } from 'node:stream';
import type { CgroupStats } from '../../pkg/cgroups/stats.js';
import type { OciResources } from '../../pkg/oci/spec-types.js';
import type { PodController, UserNamespaceSupport } from '../../pkg/runtime/pod-controller.js';
import type { HandlerStatus, PodKind, PodRuntime, PodRuntimeTraits } from '../../pkg/runtime/pod-runtime.js';
import type { ContainerRuntimeState, ExecSyncExit, ExecSyncRequest, ProcessStdio, StopRequest, TaskRuntime } from '../../pkg/runtime/task-runtime.js';
import type { ContainerRecord, SandboxRecord } from '../../pkg/store/records.js';
import { Failures, Journal } from './journal.js';

export class FakePodController implements PodController {
  readonly failures = new Failures();
  /** Pods whose sandbox process the test declared dead (sandboxAlive → false). */
  readonly dead = new Set<string>();
  /** What sandboxStats answers per pod id (absent: undefined, the stats service reads the cgroup). */
  readonly stats = new Map<string, CgroupStats>();
  /** Resources refused by checkSandboxResources (set to an error to refuse every update). */
  refuseResources?: Error;

  constructor(
    private readonly journal: Journal,
    private readonly handler: string,
  ) {}

  async startSandbox(sb: SandboxRecord, _log: unknown, withNamespaces?: () => Promise<void>): Promise<void> {
    this.journal.record('controller.startSandbox', sb.id);
    this.failures.check('startSandbox');
    // A "pinned" netns: a plain file, so recovery's existence check sees it (or, deleted, a reboot).
    await mkdir(sb.stateDir, { recursive: true });
    const net = join(sb.stateDir, 'netns');
    await writeFile(net, '');
    sb.namespaces.net = net;
    await withNamespaces?.();
    this.failures.check('startSandbox:afterNetwork');
  }

  async podNetworkReady(sb: SandboxRecord): Promise<void> {
    this.journal.record('controller.podNetworkReady', sb.id);
    this.failures.check('podNetworkReady');
  }

  sandboxAlive(sb: SandboxRecord): boolean | undefined {
    return this.dead.has(sb.id) ? false : undefined;
  }

  async sandboxStats(sb: SandboxRecord): Promise<CgroupStats | undefined> {
    return this.stats.get(sb.id);
  }

  async checkSandboxResources(sb: SandboxRecord): Promise<void> {
    this.journal.record('controller.checkSandboxResources', sb.id);
    if (this.refuseResources) throw this.refuseResources;
  }

  async portForward(sb: SandboxRecord, port: number): Promise<Duplex> {
    this.journal.record('controller.portForward', `${sb.id}:${port}`);
    return new PassThrough();
  }

  async stopSandbox(sb: SandboxRecord): Promise<void> {
    this.journal.record('controller.stopSandbox', sb.id);
    this.failures.check('stopSandbox');
  }

  async removeSandbox(sb: SandboxRecord): Promise<void> {
    this.journal.record('controller.removeSandbox', sb.id);
    this.failures.check('removeSandbox');
  }

  toString(): string {
    return `FakePodController(${this.handler})`;
  }
}

/** What the fake's ExecSync does: feed req.stdout/stderr, settle with an exit (or honour req.deadline). */
export type ExecScript = (c: ContainerRecord, req: ExecSyncRequest) => Promise<ExecSyncExit>;

/** Echoes the command line to stdout and exits 0. */
export const echoExec: ExecScript = async (_c, req) => {
  req.stdout.push(Buffer.from(req.cmd.join(' ')));
  return { exitCode: 0, timedOut: false };
};

/** Never finishes by itself: exits 137 once the deadline aborts it (what runc does to a killed exec). */
export const hangingExec: ExecScript = (_c, req) =>
  new Promise((resolve) => req.deadline.addEventListener('abort', () => resolve({ exitCode: 137, timedOut: false }), { once: true }));

export interface FakeTask {
  state: ContainerRuntimeState;
  updates: OciResources[];
}

let nextPid = 1000;

export class FakeTaskRuntime implements TaskRuntime {
  readonly failures = new Failures();
  readonly tasks = new Map<string, FakeTask>();
  /** What ExecSync runs; replace per test. */
  execScript: ExecScript = echoExec;
  /** containerCgroupStats per container id (absent: undefined, zeros in the stats). */
  readonly stats = new Map<string, CgroupStats>();
  /** Throws from updateResources when set (a sandbox that cannot grow: SandboxTooSmallError). */
  refuseUpdate?: Error;
  private readonly exitListeners: ((id: string) => void)[] = [];

  constructor(private readonly journal: Journal) {}

  task(id: string): FakeTask {
    const t = this.tasks.get(id);
    if (!t) throw new Error(`fake task runtime: no container ${id}`);
    return t;
  }

  /** The container's process exits with `code` (and optionally a runtime reason / OOM kill); listeners hear of it. */
  exit(id: string, code: number, extra: Pick<ContainerRuntimeState, 'reason' | 'message' | 'oomKilled'> = {}): void {
    const t = this.task(id);
    t.state = { ...t.state, status: 'exited', exitCode: code, finishedAt: `${Date.now()}000000`, ...extra };
    for (const l of this.exitListeners) l(id);
  }

  async createContainer(sb: SandboxRecord, c: ContainerRecord): Promise<void> {
    this.journal.record('tasks.createContainer', c.id);
    this.failures.check('createContainer');
    c.pid = nextPid++;
    this.tasks.set(c.id, { state: { status: 'created', pid: c.pid }, updates: [] });
  }

  async startContainer(c: ContainerRecord): Promise<void> {
    this.journal.record('tasks.startContainer', c.id);
    this.failures.check('startContainer');
    this.task(c.id).state.status = 'running';
  }

  async stopContainer(c: ContainerRecord, stop: StopRequest): Promise<void> {
    this.journal.record('tasks.stopContainer', c.id);
    this.failures.check('stopContainer');
    const t = this.tasks.get(c.id);
    if (t && t.state.status === 'running') this.exit(c.id, 128 + stop.signal);
  }

  async removeContainer(c: ContainerRecord): Promise<void> {
    this.journal.record('tasks.removeContainer', c.id);
    this.failures.check('removeContainer');
    this.tasks.delete(c.id);
  }

  async containerState(c: ContainerRecord): Promise<ContainerRuntimeState> {
    this.failures.check('containerState');
    return { ...(this.tasks.get(c.id)?.state ?? { status: 'unknown', pid: 0 }) };
  }

  async execSync(c: ContainerRecord, req: ExecSyncRequest): Promise<ExecSyncExit> {
    this.journal.record('tasks.execSync', c.id);
    return this.execScript(c, req);
  }

  async exec(c: ContainerRecord): Promise<ProcessStdio> {
    this.journal.record('tasks.exec', c.id);
    return idleStdio();
  }

  async attach(c: ContainerRecord): Promise<ProcessStdio> {
    this.journal.record('tasks.attach', c.id);
    return idleStdio();
  }

  async updateResources(c: ContainerRecord, oci: OciResources): Promise<void> {
    this.journal.record('tasks.updateResources', c.id);
    if (this.refuseUpdate) throw this.refuseUpdate;
    this.task(c.id).updates.push(oci);
  }

  async reopenLog(c: ContainerRecord): Promise<void> {
    this.journal.record('tasks.reopenLog', c.id);
  }

  async containerCgroupStats(c: ContainerRecord): Promise<CgroupStats | undefined> {
    return this.stats.get(c.id);
  }

  onExit(listener: (containerId: string) => void): void {
    this.exitListeners.push(listener);
  }
}

function idleStdio(): ProcessStdio {
  const stdout = new PassThrough();
  return { stdout, wait: () => new Promise((r) => stdout.once('close', () => r({ exitCode: 0 }))), kill: () => stdout.destroy() };
}

export interface FakePodRuntimeOptions {
  handler: string;
  kind?: PodKind;
  traits?: Partial<PodRuntimeTraits>;
  userNamespaces?: UserNamespaceSupport;
  status?: Partial<HandlerStatus>;
}

export class FakePodRuntime implements PodRuntime {
  readonly handler: string;
  readonly kind: PodKind;
  readonly controller: FakePodController;
  readonly tasks: FakeTaskRuntime;
  readonly traits: PodRuntimeTraits;
  /** What userNamespaces() and status() answer; tests may change them. */
  userns: UserNamespaceSupport;
  handlerStatus: HandlerStatus;
  closed = false;

  constructor(journal: Journal, o: FakePodRuntimeOptions) {
    this.handler = o.handler;
    this.kind = o.kind ?? 'oci';
    this.controller = new FakePodController(journal, o.handler);
    this.tasks = new FakeTaskRuntime(journal);
    this.traits = { podCgroupLimits: true, appArmor: 'host', ...o.traits };
    this.userns = o.userNamespaces ?? { unsupported: 'the fake runtime has no user namespaces' };
    this.handlerStatus = { recursiveReadOnlyMounts: true, ...o.status };
  }

  userNamespaces(): UserNamespaceSupport {
    return this.userns;
  }

  status(): HandlerStatus {
    return this.handlerStatus;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** A cgroup sample for the fakes' containerCgroupStats/sandboxStats: cpu usage and working set. */
export function cgroupStats(o: { usageNs: bigint; workingSetBytes: number; pids?: number }): CgroupStats {
  return {
    timestampNs: BigInt(Date.now()) * 1_000_000n,
    cpu: { usageNs: o.usageNs },
    memory: { usageBytes: o.workingSetBytes, workingSetBytes: o.workingSetBytes, rssBytes: o.workingSetBytes, cacheBytes: 0, pageFaults: 0, majorPageFaults: 0, oomKills: 0, limitHits: 0 },
    pids: { current: o.pids ?? 1 },
  };
}
