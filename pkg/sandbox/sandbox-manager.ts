// Pod sandbox lifecycle (RunPodSandbox/Stop/Remove/Status/List) over the PodController of the
// pod's handler: records, name reservation, pod files, CNI, recovery after a restart.
// Over 400 lines as one class: run, stop, remove, update and recovery share the per-pod lock, the
// name map and the rollback order (network, pod files, controller); the stateless parts live in
// pod-files.ts and pkg/validation.
import { metrics } from '../metrics/registry.js';
import { checkMetadataText } from '../validation/metadata-text.js';
import { checkSandboxLogDirectory } from '../validation/log-paths.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type * as cri from '../api/cri-types.js';
import type { Config } from '../config/schema.js';
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from '../errors/errors.js';
import type { PodRuntime } from '../runtime/pod-runtime.js';
import type { Duplex } from 'node:stream';
import { IdIndex, newId } from '../store/id-index.js';
import { RecordStore, type SandboxRecord } from '../store/records.js';
import { nowNs } from '../store/time.js';
import { removePodFiles, writePodFiles } from './pod-files.js';
import { resourcesFromCri } from '../cgroups/pod-cgroup.js';
import { CgroupfsDriver, type CgroupDriver } from '../cgroups/driver.js';
import { isSameProcessAlive } from '../sys/proc.js';
import { podUserNamespace } from '../oci/user-namespace.js';
import type { CniNetwork, PodNetworkRequest, PodNetworkStatus } from '../network/cni.js';

/** The part of CniNetwork the sandbox manager uses. */
export type PodNetwork = Pick<CniNetwork, 'setUp' | 'tearDown'>;

/** What the sandbox manager needs from the container manager. */
export interface PodContainers {
  stopAllInPod(podId: string, log: Logger): Promise<void>;
  removeAllInPod(podId: string, log: Logger): Promise<void>;
  /** Publishes a sandbox lifecycle event on the container event stream. */
  podEvent(sb: SandboxRecord, type: 'CONTAINER_CREATED_EVENT' | 'CONTAINER_STARTED_EVENT' | 'CONTAINER_STOPPED_EVENT' | 'CONTAINER_DELETED_EVENT'): void;
}

/** Where pod files are made and removed (pod-files.ts; its shm tmpfs needs root). Unit tests inject a fake. */
export interface PodFiles {
  write(sb: SandboxRecord, hostIpc: boolean, hostNet: boolean): Promise<void>;
  remove(sb: SandboxRecord): Promise<void>;
}

const hostPodFiles: PodFiles = { write: writePodFiles, remove: removePodFiles };

export function sandboxNameKey(m: cri.PodSandboxMetadata__Output | null): string {
  if (!m || !m.name) throw invalidArgument('pod sandbox metadata.name must not be empty');
  checkMetadataText('pod sandbox metadata.name', m.name);
  checkMetadataText('pod sandbox metadata.namespace', m.namespace);
  checkMetadataText('pod sandbox metadata.uid', m.uid);
  return `${m.name}_${m.namespace}_${m.uid}_${m.attempt}`;
}

/** Port numbers outside 0..65535 would only fail deep inside the portmap plugin (INTERNAL). */
function checkPortMappings(pms: cri.PortMapping__Output[]): void {
  for (const pm of pms) {
    if (pm.container_port < 1 || pm.container_port > 65535) throw invalidArgument(`port mapping: invalid container_port ${pm.container_port}`);
    if (pm.host_port < 0 || pm.host_port > 65535) throw invalidArgument(`port mapping: invalid host_port ${pm.host_port}`);
  }
}

export class SandboxManager {
  readonly store: RecordStore<SandboxRecord>;
  private readonly index = new IdIndex<SandboxRecord>('pod sandbox');
  private readonly names = new Map<string, string>();
  containers?: PodContainers;
  /** Serialises operations per pod (stop/remove/run racing). */
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly config: Config,
    readonly runtimes: Map<string, PodRuntime>,
    private readonly network: PodNetwork | undefined,
    /** Names pod cgroups and container cgroupsPaths (ContainerManager asks it too). */
    readonly cgroups: CgroupDriver = new CgroupfsDriver(),
    private readonly vmUnavailable = 'micro-VM handler not available yet',
    private readonly podFiles: PodFiles = hostPodFiles,
  ) {
    this.store = new RecordStore<SandboxRecord>(join(config.root, 'pods'), 'sandbox.json');
  }

  runtimeFor(handler: string): PodRuntime {
    const rt = this.runtimes.get(handler);
    if (rt) return rt;
    const h = this.config.runtime_handlers[handler];
    if (!h) throw notFound(`runtime handler "${handler}" is not configured (known: ${Object.keys(this.config.runtime_handlers).join(', ')})`);
    if (h.kind === 'vm') throw failedPrecondition(`runtime handler "${handler}": ${this.vmUnavailable}`);
    throw failedPrecondition(`runtime handler "${handler}" is not available`);
  }

  get(idOrPrefix: string): SandboxRecord {
    return this.index.get(idOrPrefix);
  }

  find(idOrPrefix: string): SandboxRecord | undefined {
    return this.index.find(idOrPrefix);
  }

  all(): SandboxRecord[] {
    return [...this.index.values()];
  }

  async withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
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

  private netRequest(sb: SandboxRecord): PodNetworkRequest {
    const m = sb.config.metadata!;
    return {
      podId: sb.id,
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      netnsPath: sb.namespaces.net ?? '',
      portMappings: sb.config.port_mappings,
      annotations: sb.config.annotations,
      cgroupParent: sb.cgroupParent,
      dns: sb.config.dns_config,
    };
  }

  async run(config: cri.PodSandboxConfig__Output, handlerName: string, log: Logger): Promise<string> {
    const nameKey = sandboxNameKey(config.metadata);
    checkPortMappings(config.port_mappings);
    checkSandboxLogDirectory(config.log_directory);
    const handler = handlerName || this.config.default_runtime_handler;
    const runtime = this.runtimeFor(handler);
    // Mappings checked and the handler asked before anything is made (critest expects a clean refusal).
    if (podUserNamespace(config.linux?.security_context?.namespace_options, `pod ${config.metadata?.name ?? ''}`)) {
      const support = runtime.userNamespaces();
      if ('unsupported' in support) throw invalidArgument(`user namespaces (hostUsers: false): ${support.unsupported}`);
    }
    const started = performance.now();
    // kubelet's cgroup_parent in the other driver's form is refused before anything is made.
    const podCgroup = config.linux?.cgroup_parent ? this.cgroups.podParent(config.linux.cgroup_parent) : undefined;
    const existing = this.names.get(nameKey);
    if (existing) throw alreadyExists(`pod sandbox with name "${nameKey}" already exists: ${existing}`);
    const id = newId();
    this.names.set(nameKey, id);
    const opts = config.linux?.security_context?.namespace_options;
    const hostNet = opts?.network === 'NODE';
    const hostIpc = opts?.ipc === 'NODE';
    const cgroupOwned = !config.linux?.cgroup_parent;
    const sb: SandboxRecord = {
      id,
      nameKey,
      phase: 'creating',
      handler,
      config,
      createdAt: nowNs(),
      state: 'SANDBOX_NOTREADY',
      dir: this.store.dirOf(id),
      stateDir: join(this.config.state, 'pods', id),
      namespaces: {},
      cgroupParent: podCgroup ?? this.cgroups.ownedPodParent(id),
      cgroupOwned,
      files: {},
      // Set in the intent record already (instead of a second save just before CNI ADD): a
      // rollback then always runs CNI DEL, which is a no-op when ADD never started (no CNI cache
      // entry), so recovery needs no record written between the intent and the final one.
      network: { ips: [], pendingTeardown: !hostNet && !!this.network, hostNetwork: hostNet },
    };
    const plog = log.child({ podId: id });
    try {
      await this.store.save(sb); // intent record: rolled back at start-up if we crash midway
      const network = this.network;
      let networkStarted = false;
      let netStatus: PodNetworkStatus | undefined;
      const setUpNetwork = async () => {
        networkStarted = true;
        if (hostNet || !network || !sb.namespaces.net) return;
        const res = await network.setUp(this.netRequest(sb));
        sb.network.ips = res.ips;
        netStatus = res;
      };
      // allSettled, not all: a rollback must not start while a sibling step may still mount things.
      const steps = await Promise.allSettled([this.podFiles.write(sb, hostIpc, hostNet), runtime.controller.startSandbox(sb, plog, setUpNetwork)]);
      const failed = steps.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      // A runtime that ignores the withNamespaces hook still gets its pod network, afterwards.
      if (!networkStarted) await setUpNetwork();
      // The VM runtime boots the pod VM here: it needs the CNI result (veth MAC, IPs, routes).
      await runtime.controller.podNetworkReady?.(sb, netStatus, plog);
      sb.phase = 'created';
      sb.state = 'SANDBOX_READY';
      await this.store.save(sb);
    } catch (e) {
      plog.warn({ err: e }, 'pod sandbox start failed: rolling back');
      await this.destroy(sb, plog).catch((e2: unknown) => plog.error({ err: e2 }, 'rollback failed'));
      this.names.delete(nameKey);
      throw e;
    }
    this.index.add(id, sb);
    metrics.observeSandboxStart(handler, runtime.accelerator ?? 'none', (performance.now() - started) / 1000);
    plog.info({ handler, ips: sb.network.ips }, 'pod sandbox ready');
    this.containers?.podEvent(sb, 'CONTAINER_CREATED_EVENT');
    this.containers?.podEvent(sb, 'CONTAINER_STARTED_EVENT');
    return id;
  }

  /** Releases everything a (possibly half-created) sandbox holds; idempotent. */
  private async destroy(sb: SandboxRecord, log: Logger): Promise<void> {
    await this.teardownNetwork(sb, log);
    await this.podFiles.remove(sb); // unmounts the shm tmpfs inside the state dir first
    const runtime = this.runtimes.get(sb.handler);
    if (runtime) await runtime.controller.removeSandbox(sb, log);
    await this.store.remove(sb.id);
  }

  private async teardownNetwork(sb: SandboxRecord, log: Logger): Promise<void> {
    if (!sb.network.pendingTeardown || !this.network) return;
    await this.network.tearDown(this.netRequest(sb));
    sb.network.pendingTeardown = false;
    log.debug({ podId: sb.id }, 'pod network torn down');
  }

  async stop(idOrPrefix: string, log: Logger): Promise<void> {
    const sb = this.find(idOrPrefix);
    if (!sb) return; // CRI: stopping a missing sandbox is not an error (kubelet retries)
    await this.withLock(sb.id, async () => {
      if (!this.index.find(sb.id)) return; // removed while this call waited for the lock
      const plog = log.child({ podId: sb.id });
      // A handler removed from the config while it had pods: nothing can stop what it ran (its
      // processes are the admin's to clean up), but the pod must still stop and be removable.
      const runtime = this.runtimes.get(sb.handler);
      if (!runtime) plog.warn({ handler: sb.handler }, 'the pod\'s runtime handler is no longer configured: stopping its records only');
      // Processes and network are independent: stop them concurrently, report the first failure.
      const [procs, net] = await Promise.allSettled([
        (async () => {
          await this.containers?.stopAllInPod(sb.id, plog);
          await runtime?.controller.stopSandbox(sb, plog);
        })(),
        this.teardownNetwork(sb, plog),
      ]);
      if (procs.status === 'fulfilled' && sb.state !== 'SANDBOX_NOTREADY') {
        sb.state = 'SANDBOX_NOTREADY';
        this.containers?.podEvent(sb, 'CONTAINER_STOPPED_EVENT');
      }
      await this.store.save(sb);
      if (procs.status === 'rejected') throw procs.reason;
      if (net.status === 'rejected') {
        // The pod is stopped; only its network is left. Like containerd, keep the pod and
        // retry the CNI DEL in the background (and in RemovePodSandbox, which fails until it works).
        plog.warn({ err: net.reason }, 'pod network teardown failed: pod stopped, teardown retried later');
        this.scheduleTeardownRetry(sb, plog);
      }
      plog.info('pod sandbox stopped');
    });
  }

  private readonly teardownRetries = new Map<string, NodeJS.Timeout>();

  /** Retries a failed CNI DEL with backoff (1 s … 30 s) until it works or the pod is gone. */
  private scheduleTeardownRetry(sb: SandboxRecord, log: Logger, attempt = 0): void {
    if (this.teardownRetries.has(sb.id)) return;
    const t = setTimeout(() => {
      this.teardownRetries.delete(sb.id);
      void this.withLock(sb.id, async () => {
        if (!this.index.find(sb.id) || !sb.network.pendingTeardown || sb.state === 'SANDBOX_READY') return;
        try {
          await this.teardownNetwork(sb, log);
          await this.store.save(sb);
          log.info({ podId: sb.id, attempt: attempt + 1 }, 'deferred pod network teardown done');
        } catch (e) {
          log.warn({ podId: sb.id, err: e, attempt: attempt + 1 }, 'deferred pod network teardown failed: retrying');
          this.scheduleTeardownRetry(sb, log, attempt + 1);
        }
      });
    }, Math.min(30_000, 1000 * 2 ** attempt));
    t.unref();
    this.teardownRetries.set(sb.id, t);
  }

  async remove(idOrPrefix: string, log: Logger): Promise<void> {
    const sb = this.find(idOrPrefix);
    if (!sb) return; // CRI: removing a missing sandbox must succeed
    await this.withLock(sb.id, async () => {
      if (!this.index.find(sb.id)) return;
      const plog = log.child({ podId: sb.id });
      await this.containers?.stopAllInPod(sb.id, plog);
      await this.containers?.removeAllInPod(sb.id, plog);
      if (sb.phase !== 'removing') {
        const wasReady = sb.state === 'SANDBOX_READY';
        sb.phase = 'removing';
        sb.state = 'SANDBOX_NOTREADY';
        await this.store.save(sb);
        if (wasReady) this.containers?.podEvent(sb, 'CONTAINER_STOPPED_EVENT');
      }
      await this.destroy(sb, plog);
      clearTimeout(this.teardownRetries.get(sb.id));
      this.teardownRetries.delete(sb.id);
      this.index.delete(sb.id);
      this.names.delete(sb.nameKey);
      plog.info('pod sandbox removed');
      this.containers?.podEvent(sb, 'CONTAINER_DELETED_EVENT');
    });
  }

  /**
   * UpdatePodSandboxResources: kubelet has already resized the pod cgroup; record the new
   * pod-level resources (and apply them ourselves when we own the pod cgroup).
   */
  async updateResources(idOrPrefix: string, resources: cri.LinuxContainerResources__Output | null, overhead: cri.LinuxContainerResources__Output | null): Promise<void> {
    const sb = this.get(idOrPrefix);
    await this.withLock(sb.id, async () => {
      if (!this.index.find(sb.id)) throw notFound(`pod sandbox ${sb.id} not found`);
      if (!sb.config.linux) throw failedPrecondition(`pod sandbox ${sb.id} has no Linux config`);
      const runtime = this.runtimes.get(sb.handler);
      // A sandbox that cannot grow (a micro-VM) refuses what it cannot take: SandboxTooSmallError.
      await runtime?.controller.checkSandboxResources?.(sb, resources);
      sb.config.linux.resources = resources;
      sb.config.linux.overhead = overhead;
      // Not on a VM pod's cgroup: it holds QEMU, whose guest RAM alone is memory_mib more than the
      // containers' limits (vm-size.ts), so their sum as memory.max would have the host OOM-kill the VM.
      if (sb.cgroupOwned && sb.state === 'SANDBOX_READY' && runtime?.traits.podCgroupLimits !== false) await this.cgroups.updatePod(sb.cgroupParent, resourcesFromCri(resources));
      await this.store.save(sb);
    });
  }

  /** A TCP stream to 127.0.0.1:port inside a ready pod (CRI PortForward session), through its kind's controller. */
  async portForward(idOrPrefix: string, port: number): Promise<Duplex> {
    const sb = this.get(idOrPrefix);
    if (sb.state !== 'SANDBOX_READY') throw failedPrecondition(`pod sandbox ${sb.id} is not ready`);
    return this.runtimeFor(sb.handler).controller.portForward(sb, port);
  }

  /** A READY pod whose sandbox process died (runtime says so) becomes NOTREADY, once. */
  private noticeDeath(sb: SandboxRecord): void {
    if (sb.state !== 'SANDBOX_READY' || sb.phase !== 'created') return;
    if (this.runtimes.get(sb.handler)?.controller.sandboxAlive?.(sb) !== false) return;
    sb.state = 'SANDBOX_NOTREADY';
    void this.store.save(sb).catch(() => undefined); // nothing lost: the next status derives NOTREADY from the runtime again
    this.containers?.podEvent(sb, 'CONTAINER_STOPPED_EVENT');
  }

  status(sb: SandboxRecord, verbose: boolean): cri.PodSandboxStatusResponse {
    this.noticeDeath(sb);
    const opts = sb.config.linux?.security_context?.namespace_options;
    const [ip, ...more] = sb.network.ips;
    const status: cri.PodSandboxStatus = {
      id: sb.id,
      metadata: sb.config.metadata,
      state: sb.state,
      created_at: sb.createdAt,
      network: { ip: ip ?? '', additional_ips: more.map((i) => ({ ip: i })) },
      linux: {
        namespaces: {
          options: {
            network: opts?.network ?? 'POD',
            pid: opts?.pid ?? 'POD',
            ipc: opts?.ipc ?? 'POD',
            target_id: opts?.target_id ?? '',
            userns_options: opts?.userns_options ?? null,
          },
        },
      },
      labels: sb.config.labels,
      annotations: sb.config.annotations,
      runtime_handler: sb.handler,
    };
    const info: Record<string, string> = {};
    if (verbose) {
      info.info = JSON.stringify({
        id: sb.id,
        handler: sb.handler,
        namespaces: sb.namespaces,
        cgroupParent: sb.cgroupParent,
        infraPid: sb.infra?.pid,
        files: sb.files,
        networkPendingTeardown: sb.network.pendingTeardown,
        config: sb.config,
      });
    }
    return { status, info, containers_statuses: [], timestamp: nowNs() };
  }

  list(filter: cri.PodSandboxFilter__Output | null): cri.PodSandbox[] {
    let items = this.all();
    for (const s of items) this.noticeDeath(s);
    if (filter?.id) {
      const one = this.find(filter.id);
      items = one ? [one] : [];
    }
    if (filter?.state) items = items.filter((s) => s.state === filter.state!.state);
    const sel = filter?.label_selector ?? {};
    items = items.filter((s) => Object.entries(sel).every(([k, v]) => s.config.labels[k] === v));
    return items.map((s) => ({
      id: s.id,
      metadata: s.config.metadata,
      state: s.state,
      created_at: s.createdAt,
      labels: s.config.labels,
      annotations: s.config.annotations,
      runtime_handler: s.handler,
    }));
  }

  async save(sb: SandboxRecord): Promise<void> {
    await this.store.save(sb);
  }

  /** Start-up: load records, roll back interrupted creates, finish interrupted removes. */
  async recover(log: Logger): Promise<void> {
    const { records, orphans } = await this.store.loadAll();
    for (const o of orphans) await this.store.remove(o);
    for (const sb of records) {
      const plog = log.child({ podId: sb.id });
      if (sb.phase === 'creating') {
        plog.warn('rolling back pod sandbox interrupted during creation');
        await this.destroy(sb, plog).catch((e: unknown) => plog.error({ err: e }, 'rollback failed'));
        continue;
      }
      this.index.add(sb.id, sb);
      this.names.set(sb.nameKey, sb.id);
      // After a host reboot (or a lost /run) the pinned namespaces and the infra are gone.
      const pinsGone = [sb.namespaces.net, sb.namespaces.ipc, sb.namespaces.uts, sb.namespaces.user].some((f) => f && !existsSync(f));
      if (sb.state === 'SANDBOX_READY' && (pinsGone || (sb.infra && !(await this.infraAlive(sb))))) {
        sb.state = 'SANDBOX_NOTREADY';
        await this.store.save(sb);
      }
      // stopped, but its CNI DEL failed (or was cut off): keep retrying it
      if (sb.state === 'SANDBOX_NOTREADY' && sb.phase === 'created' && sb.network.pendingTeardown) this.scheduleTeardownRetry(sb, plog);
    }
    log.info({ pods: this.index.size }, 'pod sandboxes recovered');
  }

  /** Deferred parts of recovery that need the container manager (removing phase). */
  async finishPendingRemovals(log: Logger): Promise<void> {
    for (const sb of this.all().filter((s) => s.phase === 'removing')) {
      await this.remove(sb.id, log).catch((e: unknown) => log.error({ err: e, podId: sb.id }, 'finishing pod removal failed'));
    }
  }

  private async infraAlive(sb: SandboxRecord): Promise<boolean> {
    return !!sb.infra && isSameProcessAlive(sb.infra.pid, sb.infra.startTime);
  }
}
