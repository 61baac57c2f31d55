// Builds the namespace-pod subsystem (runtimes per handler, sandbox and container managers,
// event bus) and recovers its state from disk; daemon.ts wires it in a few lines.
import { CdiRegistry } from '../cdi/registry.js';
import { SysAppArmor } from '../oci/apparmor-host.js';
import { selinuxEnabled } from '../oci/selinux.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { RuntimeHandlers } from '../grpc/handlers.js';
import type { StatusSource } from '../cri/runtime-info.js';
import type * as cri from '../api/cri-types.js';
import { OciPodRuntime } from '../runtime/oci/oci-runtime.js';
import { ExitWatcher } from '../runtime/oci/exit-watcher.js';
import type { PodRuntime } from '../runtime/pod-runtime.js';
import { CgroupfsDriver, type CgroupDriver } from '../cgroups/driver.js';
import { SandboxManager, type PodNetwork } from '../sandbox/sandbox-manager.js';
import { ContainerManager } from '../container/container-manager.js';
import type { ImageSource } from '../container/image-source.js';
import { ContainerEventBus } from '../events/container-events.js';
import { podSandboxHandlers } from '../cri/pod-sandbox.js';
import { containerHandlers } from '../cri/container.js';
import { execSyncHandlers } from '../cri/exec-sync.js';
import { eventHandlers } from '../cri/events.js';
import { containerStatsHandlers } from '../cri/container-stats.js';
import { podStatsHandlers } from '../cri/pod-stats.js';
import { listStreamingHandlers } from '../cri/list-streaming.js';
import { StatsService } from '../stats/stats-service.js';

export interface PodsSubsystem {
  sandboxes: SandboxManager;
  containers: ContainerManager;
  runtimes: Map<string, PodRuntime>;
  handlers: Partial<RuntimeHandlers>;
  status: StatusSource;
  close(): Promise<void>;
}

/** The lowest oom_score_adj we may set (no CAP_SYS_RESOURCE: not below our own). */
export function hostOomScoreAdjMin(): number {
  try {
    return Number(readFileSync('/proc/self/oom_score_adj', 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

export interface PodsSubsystemDeps {
  config: Config;
  log: Logger;
  network?: PodNetwork;
  images: ImageSource;
  /** Runtimes of other pod kinds (e.g. the micro-VM one), keyed by their handler name. */
  extraRuntimes?: PodRuntime[];
  /** The cgroup driver of config.cgroup_driver, opened (and checked) by the caller. Default: cgroupfs. */
  cgroups?: CgroupDriver;
}

export async function buildPodsSubsystem(deps: PodsSubsystemDeps): Promise<PodsSubsystem> {
  const { config, log } = deps;
  const exits = new ExitWatcher(join(config.state, 'exits'));
  await exits.start();
  const oomMin = hostOomScoreAdjMin();
  const cgroups = deps.cgroups ?? new CgroupfsDriver();
  // The one place where a handler's kind picks its pod controller and task runtime.
  const runtimes = new Map<string, PodRuntime>();
  // The micro-VM runtime (QEMU, the agent channel and its protobuf codec) is loaded only when a
  // handler of kind "vm" is configured: a runc-only daemon never runs it (~1 MiB of idle heap).
  const vm = Object.values(config.runtime_handlers).some((h) => h.kind !== 'oci') ? await import('../runtime/vm/vm-runtime.js') : undefined;
  for (const [name, h] of Object.entries(config.runtime_handlers)) {
    const rt =
      h.kind === 'oci'
        ? new OciPodRuntime({ handler: name, config: h, stateDir: config.state, exitWatcher: exits, hostOomScoreAdjMin: oomMin, cgroups, log })
        : new vm!.VmPodRuntime({ handler: name, config: h, rootDir: h.guest_root ?? config.root, stateDir: config.state, log: log.child({ handler: name }), cgroups });
    runtimes.set(name, rt);
  }
  for (const rt of deps.extraRuntimes ?? []) runtimes.set(rt.handler, rt);
  for (const rt of runtimes.values()) rt.start?.(log);
  const sandboxes = new SandboxManager(config, runtimes, deps.network, cgroups);
  const events = new ContainerEventBus();
  const apparmor = new SysAppArmor();
  const containers = new ContainerManager({ config, sandboxes, images: deps.images, events, hostOomScoreAdjMin: oomMin, log: log.child({ subsystem: 'containers' }), cdi: new CdiRegistry(config.cdi.spec_dirs), apparmor, selinuxEnabled: selinuxEnabled() });
  sandboxes.containers = containers;
  await sandboxes.recover(log);
  await containers.recover(log);
  await sandboxes.finishPendingRemovals(log);

  const stats = new StatsService(sandboxes, containers);
  const status = podsStatusSource(config, runtimes, apparmor, selinuxEnabled);
  return {
    sandboxes,
    containers,
    runtimes,
    status,
    handlers: podsCriHandlers(sandboxes, containers, events, stats),
    async close() {
      for (const rt of runtimes.values()) await rt.close();
      exits.close();
    },
  };
}

/** The CRI handlers the pods subsystem serves (everything but images, streaming and status). */
export function podsCriHandlers(sandboxes: SandboxManager, containers: ContainerManager, events: ContainerEventBus, stats: StatsService) {
  return {
    ...podSandboxHandlers(sandboxes, containers),
    ...containerHandlers(containers),
    ...execSyncHandlers(containers),
    ...eventHandlers(events),
    ...containerStatsHandlers(containers, stats),
    ...podStatsHandlers(sandboxes, stats),
    ...listStreamingHandlers(sandboxes, containers, stats),
  };
}

/** The pods subsystem's part of the CRI Status: the default handler's readiness, each handler's features, `crictl info` details. */
export function podsStatusSource(config: Config, runtimes: ReadonlyMap<string, PodRuntime>, apparmor: Pick<SysAppArmor, 'whyOff'>, selinux: () => boolean): StatusSource {
  return {
    async conditions() {
      const why = runtimes.get(config.default_runtime_handler)?.status().unavailable;
      return why ? [{ type: 'RuntimeReady', status: false, reason: 'RuntimeHandlerUnusable', message: `default handler "${config.default_runtime_handler}": ${why}` }] : [];
    },
    async handlers(): Promise<cri.RuntimeHandler[]> {
      // Each runtime says what it supports (recursive read-only mounts, user namespaces).
      const features = (name: string) => {
        const rt = runtimes.get(name);
        const userns = rt?.userNamespaces();
        return { recursive_read_only_mounts: rt?.status().recursiveReadOnlyMounts ?? false, user_namespaces: userns !== undefined && !('unsupported' in userns) };
      };
      const out: cri.RuntimeHandler[] = [{ name: '', features: features(config.default_runtime_handler) }];
      for (const name of Object.keys(config.runtime_handlers)) out.push({ name, features: features(name) });
      return out;
    },
    async features() {
      // The spec builder resolves image groups itself (Merge) or ignores them (Strict).
      return { supplemental_groups_policy: true };
    },
    async info() {
      const handlers: Record<string, string> = {};
      const vmInfo: Record<string, unknown> = {};
      for (const [name, rt] of runtimes) {
        const st = rt.status();
        handlers[name] = st.unavailable ?? 'ready';
        if (st.details) vmInfo[name] = st.details;
      }
      // Not "runtimeHandlers": crictl info prints the CRI handler list (with features) under that key, and an info key of the same name replaced it.
      return { handlerStatus: JSON.stringify(handlers), vmHandlers: JSON.stringify(vmInfo), apparmor: apparmor.whyOff() ?? 'enabled: RuntimeDefault is bulkhead-default, Localhost profiles must be loaded', selinux: selinux() ? 'enabled: containers asking for labels or relabeling are refused (not implemented)' : 'not enabled: labels are accepted and not applied' };
    },
  };
}
