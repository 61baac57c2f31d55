// newTestPods(): the pods subsystem of pkg/daemon/pods-subsystem.ts (SandboxManager,
// ContainerManager, StatsService and the CRI handler maps) over fakes instead of runc, conmon,
// QEMU, CNI, cgroupfs and mounts: containerd's newTestCRIService. Records are real, on a tmpdir.
//
// Handlers: "runc" (an oci-kind fake), "microvm" (a vm-kind fake: no pod cgroup limits, CDI
// refused, AppArmor in the guest) and "crun", configured but with no runtime (not available).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type * as cri from '../../pkg/api/cri-types.js';
import { validateConfig } from '../../pkg/config/load.js';
import type { Config } from '../../pkg/config/schema.js';
import { ContainerManager } from '../../pkg/container/container-manager.js';
import { ContainerEventBus } from '../../pkg/events/container-events.js';
import type { CallContext, ResponseStream } from '../../pkg/grpc/handlers.js';
import { containerConfig, podConfig } from '../../pkg/oci/test-fixtures.js';
import { SandboxManager } from '../../pkg/sandbox/sandbox-manager.js';
import { podsCriHandlers, podsStatusSource } from '../../pkg/daemon/pods-subsystem.js';
import type { StatusSource } from '../../pkg/status/status-source.js';
import { LayerUsageCache } from '../../pkg/stats/layer-usage-cache.js';
import { StatsService } from '../../pkg/stats/stats-service.js';
import { FakeCgroupDriver, FakeImageSource, FakePodNetwork, fakePodFiles, fakeRootfs } from './host.js';
import { Journal } from './journal.js';
import { FakePodRuntime } from './pod-runtime.js';

export const silentLog = pino({ level: 'silent' });

/** The fakes behind one TestPods; a restart keeps them (the "host" survives the daemon). */
export interface TestHost {
  root: string;
  config: Config;
  journal: Journal;
  runc: FakePodRuntime;
  microvm: FakePodRuntime;
  network: FakePodNetwork;
  cgroups: FakeCgroupDriver;
  images: FakeImageSource;
}

export interface TestPods extends TestHost {
  sandboxes: SandboxManager;
  containers: ContainerManager;
  events: ContainerEventBus;
  stats: StatsService;
  /** The subsystem's StatusSource (handler readiness and features), as buildPodsSubsystem makes it. */
  status: StatusSource;
  /** The CRI handlers of the pods subsystem, as buildPodsSubsystem composes them. */
  cri: ReturnType<typeof podsCriHandlers>;
  ctx: CallContext;
  /** A second daemon over the same root and host: new managers, recovered from the records. */
  restart(): Promise<TestPods>;
  /** RunPodSandbox with podConfig() (pkg/oci/test-fixtures.ts) and `over`; returns the pod id. */
  runPod(over?: Partial<cri.PodSandboxConfig__Output>, handler?: string): Promise<string>;
  /** CreateContainer (+ StartContainer unless start is false); returns the container id. */
  runContainer(podId: string, over?: Partial<cri.ContainerConfig__Output>, start?: boolean): Promise<string>;
  /** Deletes the tmp root. */
  cleanup(): void;
}

function newTestHost(): TestHost {
  const root = mkdtempSync(join(tmpdir(), 'bulkhead-testpods-'));
  const config = validateConfig({
    root: join(root, 'root'),
    state: join(root, 'state'),
    default_runtime_handler: 'runc',
    runtime_handlers: {
      runc: { kind: 'oci', runtime_path: 'runc', monitor_path: 'conmon' },
      crun: { kind: 'oci', runtime_path: 'crun', monitor_path: 'conmon' },
      microvm: { kind: 'vm', qemu_path: 'qemu-system-x86_64', accelerator: 'auto', memory_mib: 128, vcpus: 1, pool_size: 0, tcg_tb_size_mib: 64 },
    },
  });
  const journal = new Journal();
  return {
    root,
    config,
    journal,
    runc: new FakePodRuntime(journal, { handler: 'runc' }),
    microvm: new FakePodRuntime(journal, {
      handler: 'microvm',
      kind: 'vm',
      traits: { podCgroupLimits: false, cdiRefusal: 'a micro-VM pod has its own kernel', appArmor: 'guest' },
    }),
    network: new FakePodNetwork(journal),
    cgroups: new FakeCgroupDriver(),
    images: new FakeImageSource(join(root, 'layers')),
  };
}

async function assemble(host: TestHost, recover: boolean): Promise<TestPods> {
  const runtimes = new Map([
    ['runc', host.runc],
    ['microvm', host.microvm],
  ]);
  const sandboxes = new SandboxManager(host.config, runtimes, host.network, host.cgroups, undefined, fakePodFiles(host.journal));
  const events = new ContainerEventBus();
  const containers = new ContainerManager({
    config: host.config,
    sandboxes,
    images: host.images,
    events,
    hostOomScoreAdjMin: -1000,
    log: silentLog,
    rootfs: fakeRootfs(host.journal),
  });
  sandboxes.containers = containers;
  if (recover) {
    await sandboxes.recover(silentLog);
    await containers.recover(silentLog);
    await sandboxes.finishPendingRemovals(silentLog);
  }
  // Layer usage measured as zero: no walk of the (empty) upper dirs in the background.
  const stats = new StatsService(sandboxes, containers, new LayerUsageCache(async () => ({ bytes: 0n, inodes: 0n })));
  const cri = podsCriHandlers(sandboxes, containers, events, stats);
  const ctx: CallContext = { log: silentLog, signal: new AbortController().signal };
  const pods: TestPods = {
    ...host,
    sandboxes,
    containers,
    events,
    stats,
    status: podsStatusSource(host.config, runtimes, { whyOff: () => 'no AppArmor in unit tests' }, () => false),
    cri,
    ctx,
    restart: () => assemble(host, true),
    async runPod(over = {}, handler = '') {
      const config = podConfig({ log_directory: join(host.root, 'logs', over.metadata?.name ?? 'pod'), linux: podLinux(), ...over });
      return (await cri.RunPodSandbox({ config, runtime_handler: handler }, ctx)).pod_sandbox_id!;
    },
    async runContainer(podId, over = {}, start = true) {
      const config = containerConfig(over);
      const podConfigOf = sandboxes.get(podId).config;
      const { container_id } = await cri.CreateContainer({ pod_sandbox_id: podId, config, sandbox_config: podConfigOf }, ctx);
      if (start) await cri.StartContainer({ container_id: container_id! }, ctx);
      return container_id!;
    },
    cleanup: () => rmSync(host.root, { recursive: true, force: true }),
  };
  return pods;
}

/** A fresh pods subsystem over fakes, on its own tmp root. Call cleanup() when done. */
export function newTestPods(): Promise<TestPods> {
  return assemble(newTestHost(), false);
}

/** A ResponseStream that collects what a server-streaming handler writes; abort() ends the call. */
export class CollectingStream<T> implements ResponseStream<T> {
  readonly items: T[] = [];
  private readonly ac = new AbortController();
  private waiters: (() => void)[] = [];

  get signal(): AbortSignal {
    return this.ac.signal;
  }

  async write(msg: T): Promise<void> {
    this.items.push(msg);
    for (const w of this.waiters.splice(0)) w();
  }

  abort(): void {
    this.ac.abort();
  }

  /** Resolves once at least `n` items were written. */
  async waitFor(n: number, timeoutMs = 2000): Promise<T[]> {
    const until = Date.now() + timeoutMs;
    while (this.items.length < n) {
      if (Date.now() > until) throw new Error(`stream: ${this.items.length} of ${n} items after ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 20);
      });
    }
    return this.items;
  }
}

/** A pod's Linux config as kubelet sends it (proto3 defaults); hostNetwork: namespace_options.network NODE. */
export function podLinux(o: { cgroupParent?: string; hostNetwork?: boolean } = {}): cri.LinuxPodSandboxConfig__Output {
  return {
    cgroup_parent: o.cgroupParent ?? '',
    security_context: {
      namespace_options: { network: o.hostNetwork ? 'NODE' : 'POD', pid: 'CONTAINER', ipc: 'POD', target_id: '', userns_options: null },
      selinux_options: null,
      run_as_user: null,
      readonly_rootfs: false,
      supplemental_groups: [],
      privileged: false,
      seccomp_profile_path: '',
      run_as_group: null,
      seccomp: null,
      apparmor: null,
      supplemental_groups_policy: 'Merge',
    },
    sysctls: {},
    overhead: null,
    resources: null,
  };
}

/** A container filter with proto3 defaults. */
export function containerFilter(f: { id?: string; podId?: string; state?: cri.ContainerState__Output; labels?: Record<string, string> }): cri.ContainerFilter__Output {
  return { id: f.id ?? '', pod_sandbox_id: f.podId ?? '', state: f.state ? { state: f.state } : null, label_selector: f.labels ?? {} };
}

/** A pod sandbox filter with proto3 defaults. */
export function podFilter(f: { id?: string; state?: cri.PodSandboxState__Output; labels?: Record<string, string> }): cri.PodSandboxFilter__Output {
  return { id: f.id ?? '', state: f.state ? { state: f.state } : null, label_selector: f.labels ?? {} };
}
