// Container lifecycle (Create/Start/Stop/Remove/Status/List/Update/ReopenLog/ExecSync) over the
// pod's TaskRuntime: records, name reservation, rootfs, spec, exit tracking, events, recovery.
// Over 400 lines as one class because every RPC of a container goes through the same per-container
// lock, name map, refresh de-duplication and intent records; what needs none of that state lives
// beside it (bundle.ts, container-status.ts, exec-sync.ts, stop-signal.ts, rootfs.ts, image-volumes.ts).
import { mkdir, readFile } from 'node:fs/promises';
import { checkMetadataText } from '../validation/metadata-text.js';
import { containerLogPath } from '../validation/log-paths.js';
import { writeFileAtomic } from '../store/atomic-file.js';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type * as cri from '../api/cri-types.js';
import type { Config } from '../config/schema.js';
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from '../errors/errors.js';
import type { CdiRegistry } from '../cdi/registry.js';
import { vmAppArmor, type AppArmorHost } from '../oci/apparmor.js';
import { CdiError } from '../cdi/spec-file.js';
import { hostResourceSupport, resourcesFromCri } from '../oci/resources.js';
import type { PodRuntime } from '../runtime/pod-runtime.js';
import type { ProcessStdio, StdioOptions, TaskRuntime } from '../runtime/task-runtime.js';
import type { SandboxManager, PodContainers } from '../sandbox/sandbox-manager.js';
import { IdIndex, newId } from '../store/id-index.js';
import { RecordStore, type ContainerRecord, type SandboxRecord } from '../store/records.js';
import { nowNs } from '../store/time.js';
import type { ContainerEventBus } from '../events/container-events.js';
import type { ImageSource } from './image-source.js';
import { mountRootfs, removeContainerDir, unmountRootfs, type RootfsIdmap } from './rootfs.js';
import { podUserNamespace } from '../oci/user-namespace.js';
import { mountImageVolumes, unmountImageVolumes } from './image-volumes.js';
import { writeBundle } from './bundle.js';
import { containerListItem, containerStatusOf } from './container-status.js';
import { forEachLimit } from '../sys/for-each-limit.js';
import { canonicalStopSignal, parseStopSignal, SIGTERM, UnknownSignalError } from './stop-signal.js';
import { runExecSync } from './exec-sync.js';
import { secondsToMs } from '../sys/long-timeout.js';

export function containerNameKey(podId: string, m: cri.ContainerMetadata__Output | null): string {
  if (!m || !m.name) throw invalidArgument('container metadata.name must not be empty');
  checkMetadataText('container metadata.name', m.name);
  return `${podId}_${m.name}_${m.attempt}`;
}

/** The stop signal as the record keeps it; unknown → InvalidArgument. */
function recordStopSignal(sig: string): string {
  try {
    return canonicalStopSignal(sig);
  } catch (e) {
    if (e instanceof UnknownSignalError) throw invalidArgument(`stop signal: ${e.message}`);
    throw e;
  }
}

/** The signal number to stop with; a record from before stop signals were checked falls back to SIGTERM. */
function stopSignalOf(c: ContainerRecord, log: Logger): number {
  try {
    return parseStopSignal(c.stopSignal);
  } catch {
    log.warn({ stopSignal: c.stopSignal }, 'unknown stop signal in the container record: using SIGTERM');
    return SIGTERM;
  }
}

function isExited(c: ContainerRecord): boolean {
  return c.state === 'CONTAINER_EXITED';
}

export interface ContainerManagerDeps {
  config: Config;
  sandboxes: SandboxManager;
  images: ImageSource;
  events: ContainerEventBus;
  hostOomScoreAdjMin: number;
  log: Logger;
  /** CDI devices of the node; absent: a container asking for one is refused (unit tests). */
  cdi?: CdiRegistry;
  /** The node's AppArmor; absent: profiles accepted and not applied (unit tests, hosts without it). */
  apparmor?: AppArmorHost;
  selinuxEnabled?: boolean;
  /** Mounting the rootfs overlay (rootfs.ts, needs root); absent: the real one. Unit tests inject a fake. */
  rootfs?: RootfsMounter;
}

/** The rootfs steps of a container's create and removal (rootfs.ts). */
export interface RootfsMounter {
  mount(containerDir: string, lowerdirs: string[], idmap?: RootfsIdmap): Promise<string>;
  unmount(containerDir: string): Promise<void>;
  /** Unmounts what is left and deletes the container's directory. */
  removeDir(containerDir: string): Promise<void>;
}

const hostRootfs: RootfsMounter = { mount: mountRootfs, unmount: unmountRootfs, removeDir: removeContainerDir };

export class ContainerManager implements PodContainers {
  readonly store: RecordStore<ContainerRecord>;
  private readonly index = new IdIndex<ContainerRecord>('container');
  private readonly names = new Map<string, string>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly refreshing = new Map<string, Promise<void>>();
  private readonly rootfs: RootfsMounter;

  constructor(private readonly deps: ContainerManagerDeps) {
    this.rootfs = deps.rootfs ?? hostRootfs;
    this.store = new RecordStore<ContainerRecord>(join(deps.config.root, 'containers'), 'container.json');
    for (const rt of new Set(deps.sandboxes.runtimes.values())) rt.tasks.onExit((id) => void this.onExit(id));
  }

  private runtime(c: { handler: string }): PodRuntime {
    return this.deps.sandboxes.runtimeFor(c.handler);
  }

  private tasks(c: { handler: string }): TaskRuntime {
    return this.runtime(c).tasks;
  }

  get(idOrPrefix: string): ContainerRecord {
    return this.index.get(idOrPrefix);
  }

  find(idOrPrefix: string): ContainerRecord | undefined {
    return this.index.find(idOrPrefix);
  }

  all(): ContainerRecord[] {
    return [...this.index.values()];
  }

  inPod(podId: string): ContainerRecord[] {
    return this.all().filter((c) => c.podId === podId);
  }

  private async withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => undefined); // the lock chain only orders calls; each caller sees its own rejection
    this.locks.set(id, settled);
    try {
      return await next;
    } finally {
      if (this.locks.get(id) === settled) this.locks.delete(id);
    }
  }

  async create(podId: string, config: cri.ContainerConfig__Output, log: Logger): Promise<string> {
    if (!podId) throw invalidArgument('pod_sandbox_id must not be empty');
    const sb = this.deps.sandboxes.get(podId);
    // Under the pod's lock, which Stop/RemovePodSandbox hold throughout: otherwise a removal that
    // lists the pod's containers while this one is half made misses it, and it outlives its pod
    // (mounted rootfs, runtime state, a record naming a pod that is gone). Now a Stop/Remove that
    // comes during a create waits for it and then stops/removes the new container too, and a
    // create that comes during a Stop/Remove finds the pod not ready or gone.
    return this.deps.sandboxes.withLock(sb.id, () => this.createInPod(sb.id, config, log));
  }

  private async createInPod(podId: string, config: cri.ContainerConfig__Output, log: Logger): Promise<string> {
    const sb = this.deps.sandboxes.get(podId); // NOT_FOUND if it was removed while we waited
    if (sb.state !== 'SANDBOX_READY') throw failedPrecondition(`pod sandbox ${sb.id} is not ready`);
    const nameKey = containerNameKey(sb.id, config.metadata);
    const existing = this.names.get(nameKey);
    if (existing) throw alreadyExists(`container "${config.metadata!.name}" (attempt ${config.metadata!.attempt}) already exists in pod ${sb.id}: ${existing}`);
    const imageRefIn = config.image?.image ?? '';
    if (!imageRefIn) throw invalidArgument('container image must not be empty');
    // Before anything is reserved or created: the log file is made as root.
    const logPath = containerLogPath(sb.config.log_directory, config.log_path);
    const image = this.deps.images.resolve(imageRefIn);
    if (!image) throw notFound(`image "${imageRefIn}" not found: pull it first`);
    const runtime = this.runtime(sb);
    const cdiNames = (config.CDI_devices ?? []).map((d) => d.name);
    // Host device nodes, host mounts and host hooks have no meaning inside the pod's own kernel.
    if (cdiNames.length > 0 && runtime.traits.cdiRefusal) throw new CdiError(`CDI devices (${cdiNames.join(', ').slice(0, 256)}): ${runtime.traits.cdiRefusal} (handler "${sb.handler}")`, 'Unsupported');
    const cdi = cdiNames.length > 0 ? this.resolveCdi(cdiNames) : undefined;
    const imgCfg = image.config.config ?? {};
    const stopSignal = recordStopSignal(config.stop_signal && config.stop_signal !== 'RUNTIME_DEFAULT' ? config.stop_signal : imgCfg.StopSignal || 'SIGTERM');
    const id = newId();
    this.names.set(nameKey, id);
    const dir = this.store.dirOf(id);
    const c: ContainerRecord = {
      id,
      podId: sb.id,
      nameKey,
      phase: 'creating',
      handler: sb.handler,
      config,
      imageId: image.id,
      imageRef: image.repoDigests[0] ?? image.id,
      imageName: imageRefIn,
      createdAt: nowNs(),
      startedAt: '0',
      finishedAt: '0',
      state: 'CONTAINER_CREATED',
      exitCode: 0,
      reason: '',
      message: '',
      pid: 0,
      conmonPid: 0,
      dir,
      bundleDir: dir,
      rootfs: join(dir, 'rootfs'),
      cgroupsPath: this.deps.sandboxes.cgroups.containerCgroupsPath(sb.cgroupParent, id),
      logPath,
      leaseId: `container-${id}`,
      stopSignal,
      resources: config.linux?.resources ?? undefined,
      tty: config.tty,
      stdin: config.stdin,
      stdinOnce: config.stdin_once,
    };
    const clog = log.child({ podId: sb.id, containerId: id });
    const timings = { rootfsMs: 0, specMs: 0, runtimeMs: 0 };
    try {
      const t0 = performance.now();
      await this.store.save(c); // intent record
      const lowers = await this.deps.images.acquireLayers(image.id, c.leaseId);
      await this.rootfs.mount(dir, lowers, rootfsIdmap(sb, runtime, this.deps.config.root));
      const volumes = await mountImageVolumes(id, dir, config.mounts, this.deps.images);
      timings.rootfsMs = Math.round(performance.now() - t0);
      await writeBundle(c, sb, volumes, {
        imageConfig: imgCfg,
        hostOomScoreAdjMin: this.deps.hostOomScoreAdjMin,
        selinuxEnabled: this.deps.selinuxEnabled ?? false,
        ...(this.deps.apparmor ? { apparmor: runtime.traits.appArmor === 'guest' ? vmAppArmor(this.deps.apparmor) : this.deps.apparmor } : {}),
        ...(cdi ? { cdi } : {}),
      });
      if (cdi) clog.info({ cdiDevices: cdiNames, specFiles: cdi.files }, 'CDI devices applied');
      if (c.logPath) await mkdir(dirname(c.logPath), { recursive: true });
      else c.logPath = join(dir, 'container.log');
      timings.specMs = Math.round(performance.now() - t0) - timings.rootfsMs;
      await runtime.tasks.createContainer(sb, c, clog);
      timings.runtimeMs = Math.round(performance.now() - t0) - timings.rootfsMs - timings.specMs;
      c.phase = 'created';
      await this.store.save(c);
    } catch (e) {
      clog.warn({ err: e }, 'container create failed: rolling back');
      await this.destroy(c, clog).catch((e2: unknown) => clog.error({ err: e2 }, 'rollback failed'));
      this.names.delete(nameKey);
      throw e;
    }
    this.index.add(id, c);
    clog.info({ image: imageRefIn, ...timings }, 'container created');
    this.emit(c, 'CONTAINER_CREATED_EVENT');
    return id;
  }

  private resolveCdi(names: string[]): ReturnType<CdiRegistry['resolve']> {
    if (!this.deps.cdi) throw new CdiError(`CDI devices (${names.join(', ').slice(0, 256)}) requested, but no CDI spec dirs are configured`, 'Unresolvable');
    return this.deps.cdi.resolve(names);
  }

  private async destroy(c: ContainerRecord, log: Logger): Promise<void> {
    const rt = this.deps.sandboxes.runtimes.get(c.handler);
    if (rt) await rt.tasks.removeContainer(c, log);
    await this.rootfs.unmount(c.dir);
    await unmountImageVolumes(c.id, c.dir, c.config.mounts ?? [], this.deps.images);
    await this.deps.images.releaseLayers(c.leaseId);
    await this.rootfs.removeDir(c.dir);
  }

  async start(idOrPrefix: string, log: Logger): Promise<void> {
    const c = this.get(idOrPrefix);
    await this.withLock(c.id, async () => {
      if (c.state !== 'CONTAINER_CREATED') throw failedPrecondition(`container ${c.id} is in state ${c.state}, not CONTAINER_CREATED`);
      const clog = log.child({ podId: c.podId, containerId: c.id });
      try {
        await this.tasks(c).startContainer(c, clog);
      } catch (e) {
        c.state = 'CONTAINER_EXITED';
        c.finishedAt = nowNs();
        c.exitCode = 128;
        c.reason = 'StartError';
        c.message = (e as Error).message;
        await this.store.save(c);
        throw e;
      }
      c.startedAt = nowNs();
      c.state = 'CONTAINER_RUNNING';
      await this.store.save(c);
      clog.info('container started');
      this.emit(c, 'CONTAINER_STARTED_EVENT');
      // It may have exited before we marked it running.
      await this.refresh(c);
    });
  }

  /** Pulls the runtime's view into the record (exit code, finish time, reason); persists changes. */
  refresh(c: ContainerRecord): Promise<void> {
    if (c.state === 'CONTAINER_EXITED' || c.phase === 'creating') return Promise.resolve();
    // One refresh per container at a time, so an exit is recorded (and announced) once.
    const inflight = this.refreshing.get(c.id);
    if (inflight) return inflight;
    const p = this.doRefresh(c).finally(() => this.refreshing.delete(c.id));
    this.refreshing.set(c.id, p);
    return p;
  }

  private async doRefresh(c: ContainerRecord): Promise<void> {
    if (c.state === 'CONTAINER_EXITED') return;
    const rt = this.deps.sandboxes.runtimes.get(c.handler);
    if (!rt) return;
    const st = await rt.tasks.containerState(c);
    if (st.status !== 'exited') return;
    c.state = 'CONTAINER_EXITED';
    c.exitCode = st.exitCode ?? -1;
    c.finishedAt = st.finishedAt ?? nowNs();
    c.reason = st.reason ?? (st.oomKilled ? 'OOMKilled' : c.exitCode === 0 ? 'Completed' : 'Error');
    if (st.message) c.message = st.message;
    await this.store.save(c);
    this.deps.log.info({ podId: c.podId, containerId: c.id, exitCode: c.exitCode, reason: c.reason }, 'container exited');
    this.emit(c, 'CONTAINER_STOPPED_EVENT');
  }

  private async onExit(id: string): Promise<void> {
    const c = this.index.find(id);
    if (!c || c.id !== id) return;
    await this.withLock(c.id, () => this.refresh(c)).catch((e: unknown) => this.deps.log.warn({ err: e, containerId: id }, 'exit refresh failed'));
  }

  async stop(idOrPrefix: string, timeoutSec: number, log: Logger): Promise<void> {
    const c = this.find(idOrPrefix);
    if (!c) return; // CRI idempotence: stopping a missing container is not an error
    await this.stopRecord(c, timeoutSec, log);
  }

  private async stopRecord(c: ContainerRecord, timeoutSec: number, log: Logger): Promise<void> {
    await this.refresh(c);
    if (c.state === 'CONTAINER_EXITED') return;
    const clog = log.child({ podId: c.podId, containerId: c.id });
    // Its handler gone from the config (see SandboxManager.stop): the record is marked exited below.
    const rt = this.deps.sandboxes.runtimes.get(c.handler);
    if (rt) await rt.tasks.stopContainer(c, { signal: stopSignalOf(c, clog), timeoutMs: secondsToMs(timeoutSec) }, clog);
    else clog.warn({ handler: c.handler }, 'the container\'s runtime handler is no longer configured: marked exited without a stop');
    await this.withLock(c.id, () => this.refresh(c));
    if (!isExited(c)) {
      // Created-but-never-started containers are killed before their init execs.
      c.state = 'CONTAINER_EXITED';
      c.exitCode = 137;
      c.finishedAt = nowNs();
      c.reason = 'Error';
      await this.store.save(c);
      this.emit(c, 'CONTAINER_STOPPED_EVENT');
    }
    clog.info({ exitCode: c.exitCode }, 'container stopped');
  }

  async remove(idOrPrefix: string, log: Logger): Promise<void> {
    const c = this.find(idOrPrefix);
    if (!c) return; // CRI: removing a missing container is not an error
    await this.removeRecord(c, log);
  }

  private async removeRecord(c: ContainerRecord, log: Logger): Promise<void> {
    const clog = log.child({ podId: c.podId, containerId: c.id });
    await this.stopRecord(c, 0, clog);
    await this.withLock(c.id, async () => {
      if (!this.index.find(c.id)) return;
      c.phase = 'removing';
      await this.store.save(c);
      await this.destroy(c, clog);
      this.index.delete(c.id);
      this.names.delete(c.nameKey);
      clog.info('container removed');
      this.emit(c, 'CONTAINER_DELETED_EVENT');
    });
  }

  async stopAllInPod(podId: string, log: Logger): Promise<void> {
    await Promise.all(this.inPod(podId).map((c) => this.stopRecord(c, 0, log)));
  }

  async removeAllInPod(podId: string, log: Logger): Promise<void> {
    await Promise.all(this.inPod(podId).map((c) => this.removeRecord(c, log)));
  }

  async status(idOrPrefix: string, verbose: boolean): Promise<cri.ContainerStatusResponse> {
    const c = this.get(idOrPrefix);
    await this.refresh(c);
    const info: Record<string, string> = {};
    if (verbose) {
      const spec = await readFile(join(c.bundleDir, 'config.json'), 'utf8').then((s) => JSON.parse(s) as unknown, () => undefined);
      info.info = JSON.stringify({ pid: c.pid, sandboxID: c.podId, runtimeHandler: c.handler, bundle: c.bundleDir, conmonPid: c.conmonPid, runtimeSpec: spec, imageRef: c.imageRef });
    }
    return { status: this.toStatus(c), info };
  }

  toStatus(c: ContainerRecord): cri.ContainerStatus {
    return containerStatusOf(c);
  }

  async list(filter: cri.ContainerFilter__Output | null): Promise<cri.Container[]> {
    let items = this.all();
    if (filter?.id) {
      const one = this.find(filter.id);
      items = one ? [one] : [];
    }
    if (filter?.pod_sandbox_id) {
      const sb = this.deps.sandboxes.find(filter.pod_sandbox_id);
      items = sb ? items.filter((c) => c.podId === sb.id) : [];
    }
    await Promise.all(items.map((c) => this.refresh(c).catch(() => undefined))); // a listing shows the record as last known; the refresh failure is the status RPC's to report
    if (filter?.state) items = items.filter((c) => c.state === filter.state!.state);
    const sel = filter?.label_selector ?? {};
    items = items.filter((c) => Object.entries(sel).every(([k, v]) => c.config.labels[k] === v));
    return items.map(containerListItem);
  }

  async updateResources(idOrPrefix: string, linux: cri.LinuxContainerResources__Output | null): Promise<void> {
    const c = this.get(idOrPrefix);
    await this.refresh(c);
    if (c.state === 'CONTAINER_EXITED') throw failedPrecondition(`container ${c.id} has exited`);
    if (!linux) return;
    // The converter CreateContainer used: the same request gives the same cgroup settings.
    const oci = resourcesFromCri(linux, hostResourceSupport());
    const others = this.inPod(c.podId).filter((o) => o.id !== c.id && o.state !== 'CONTAINER_EXITED');
    await this.tasks(c).updateResources(c, oci, others);
    c.resources = linux;
    await this.store.save(c);
    // Keep the bundle's spec in step (verbose status shows it; runc reads it on exec).
    const specFile = join(c.bundleDir, 'config.json');
    const spec = JSON.parse(await readFile(specFile, 'utf8')) as { linux?: { resources?: Record<string, unknown> } };
    spec.linux = { ...spec.linux, resources: { ...spec.linux?.resources, ...oci } };
    await writeFileAtomic(specFile, JSON.stringify(spec), 0o644);
  }

  async reopenLog(idOrPrefix: string): Promise<void> {
    const c = this.get(idOrPrefix);
    await this.refresh(c);
    if (c.state !== 'CONTAINER_RUNNING') throw failedPrecondition(`container ${c.id} is not running`);
    await this.tasks(c).reopenLog(c);
  }

  async execSync(idOrPrefix: string, cmd: string[], timeoutSec: number, log: Logger): Promise<cri.ExecSyncResponse> {
    const c = this.get(idOrPrefix);
    await this.refresh(c);
    if (c.state !== 'CONTAINER_RUNNING') throw failedPrecondition(`container ${c.id} is not running (${c.state})`);
    const rt = this.tasks(c);
    const clog = log.child({ podId: c.podId, containerId: c.id });
    const r = await runExecSync((req) => rt.execSync(c, req, clog), cmd, timeoutSec);
    return { stdout: r.stdout, stderr: r.stderr, exit_code: r.exitCode };
  }

  /** A streaming exec (CRI Exec session) in a running container, through its pod kind's task runtime. */
  async execStream(idOrPrefix: string, cmd: string[], opts: StdioOptions): Promise<ProcessStdio> {
    const c = this.get(idOrPrefix);
    await this.refresh(c);
    if (c.state !== 'CONTAINER_RUNNING') throw failedPrecondition(`container ${c.id} is not running (${c.state})`);
    return this.tasks(c).exec(c, cmd, opts);
  }

  /** A streaming attach (CRI Attach session) to a running container's own stdio. */
  async attachStream(idOrPrefix: string, opts: StdioOptions): Promise<ProcessStdio> {
    const c = this.get(idOrPrefix);
    await this.refresh(c);
    if (c.state !== 'CONTAINER_RUNNING') throw failedPrecondition(`container ${c.id} is not running (${c.state})`);
    return this.tasks(c).attach(c, opts);
  }

  private emit(c: ContainerRecord, type: cri.ContainerEventResponse['container_event_type']): void {
    if (this.deps.events.subscribers === 0) return;
    const sb = this.deps.sandboxes.find(c.podId);
    const podStatus = sb ? this.deps.sandboxes.status(sb, false).status : null;
    this.deps.events.publish({
      container_id: c.id,
      container_event_type: type,
      created_at: nowNs(),
      pod_sandbox_status: podStatus,
      containers_statuses: this.inPod(c.podId).map((x) => this.toStatus(x)),
    });
  }

  /**
   * Sandbox lifecycle as container events (container_id = pod id), as containerd and CRI-O send
   * them for the pod's infra container: kubelet's evented PLEG learns of pod changes this way.
   */
  podEvent(sb: SandboxRecord, type: cri.ContainerEventResponse['container_event_type']): void {
    if (this.deps.events.subscribers === 0) return;
    this.deps.events.publish({
      container_id: sb.id,
      container_event_type: type,
      created_at: nowNs(),
      pod_sandbox_status: this.deps.sandboxes.status(sb, false).status,
      containers_statuses: this.inPod(sb.id).map((x) => this.toStatus(x)),
    });
  }

  /** Start-up: load records, roll back interrupted creates, pick up exits that happened while down. */
  async recover(log: Logger): Promise<void> {
    const { records, orphans } = await this.store.loadAll();
    for (const o of orphans) await this.rootfs.removeDir(this.store.dirOf(o));
    const live: ContainerRecord[] = [];
    for (const c of records) {
      const clog = log.child({ podId: c.podId, containerId: c.id });
      if (c.phase === 'creating' || !this.deps.sandboxes.find(c.podId)) {
        clog.warn({ phase: c.phase }, 'rolling back container interrupted during creation (or orphaned)');
        await this.destroy(c, clog).catch((e: unknown) => clog.error({ err: e }, 'rollback failed'));
        continue;
      }
      this.index.add(c.id, c);
      this.names.set(c.nameKey, c.id);
      live.push(c);
    }
    // The CRI socket listens only after recovery: refreshes run side by side, so a VM pod whose
    // guest does not answer (each such container waits up to 1 s for the reattach) holds start-up
    // about once, not once per container. 16 at a time bounds the runc processes forked at once.
    await forEachLimit(live, 16, async (c) => {
      const clog = log.child({ podId: c.podId, containerId: c.id });
      await this.refresh(c).catch((e: unknown) => clog.warn({ err: e }, 'state refresh failed'));
      if (c.phase === 'removing') await this.removeRecord(c, clog).catch((e: unknown) => clog.error({ err: e }, 'finishing removal failed'));
    });
    log.info({ containers: this.index.size }, 'containers recovered');
  }

  sandboxOf(c: ContainerRecord): SandboxRecord | undefined {
    return this.deps.sandboxes.find(c.podId);
  }
}

/** A user-namespace pod's containers get their image layers idmapped with the pod's mapping. */
function rootfsIdmap(sb: SandboxRecord, runtime: PodRuntime, daemonRoot: string): RootfsIdmap | undefined {
  const userns = podUserNamespace(sb.config.linux?.security_context?.namespace_options, `pod ${sb.id}`);
  if (!userns) return undefined;
  if (!sb.namespaces.user) throw failedPrecondition(`pod ${sb.id} asks for a user namespace but has none pinned`);
  const support = runtime.userNamespaces();
  if ('unsupported' in support) throw failedPrecondition(`user namespaces: ${support.unsupported}`);
  return { helper: support.idmapHelper, usernsFile: sb.namespaces.user, rootUid: userns.uids.hostId, rootGid: userns.gids.hostId, traversableFrom: daemonRoot };
}
