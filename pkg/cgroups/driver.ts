// The cgroup driver: who creates the pod and container cgroups. "cgroupfs" writes the cgroup
// tree itself; "systemd" asks systemd for slices and scopes over D-Bus (kubelet's cgroupDriver:
// systemd), because on a systemd host systemd owns the tree and would undo writes made behind
// its back (a daemon-reload re-applies unit properties).
import type { CgroupMode } from './detect.js';
import { detectCgroupMode } from './detect.js';
import { invalidArgument } from '../errors/errors.js';
import { applyResources, ensureCgroup, killCgroup, removeCgroup, type CgroupResources } from './pod-cgroup.js';
import { cgroupSegments } from './paths.js';
import { containerCgroupsPath, expandSlice, isSliceName, ownedPodSlice, SCOPE_PREFIX } from './systemd-names.js';
import { resourceProperties, scopeProperties, sliceProperties } from './systemd-properties.js';
import { SystemdClient, SystemdError, systemdHostProblem } from './systemd-bus.js';

export type CgroupDriverName = 'cgroupfs' | 'systemd';

export interface CgroupDriver {
  readonly name: CgroupDriverName;
  /** The pod cgroup Bulkhead picks when kubelet names none. */
  ownedPodParent(podId: string): string;
  /**
   * The pod cgroup to record for kubelet's cgroup_parent; refuses one this driver cannot place
   * pods in (a request error: InvalidArgument).
   */
  podParent(cgroupParent: string): string;
  /** The linux.cgroupsPath of a container (or the pod's infra process) in the pod cgroup. */
  containerCgroupsPath(podParent: string, id: string): string;
  /** Makes the pod cgroup exist; `resources` only when it is ours (`owned`): kubelet sizes its own. */
  ensurePod(parent: string, resources: CgroupResources, owned: boolean): Promise<void>;
  /** New pod-level resources for a pod cgroup Bulkhead owns. */
  updatePod(parent: string, resources: CgroupResources): Promise<void>;
  /** Kills what is left in a pod cgroup Bulkhead owns and removes it. */
  removePod(parent: string): Promise<void>;
  /**
   * Moves running helper processes (conmon) of a pod into a unit of their own in the pod cgroup.
   * cgroupfs: nothing (they stay in the daemon's cgroup, as before the systemd driver).
   */
  adopt(podParent: string, name: string, pids: number[]): Promise<void>;
  /** Global flags for every OCI runtime (runc/crun) call. */
  readonly runtimeArgs: readonly string[];
  /** Flags for conmon. */
  readonly monitorArgs: readonly string[];
  close(): void;
}

export class CgroupfsDriver implements CgroupDriver {
  readonly name = 'cgroupfs' as const;
  readonly runtimeArgs = [] as const;
  readonly monitorArgs = [] as const;

  ownedPodParent(podId: string): string {
    return `/bulkhead/pod-${podId.slice(0, 16)}`;
  }

  podParent(parent: string): string {
    // kubelet with cgroupDriver: systemd talking to a cgroupfs runtime: say which side to change.
    if (isSliceName(parent)) throw invalidArgument(`cgroup_parent ${JSON.stringify(parent)} is a systemd slice, but cgroup_driver is "cgroupfs": kubelet's cgroupDriver and Bulkhead's cgroup_driver must match`);
    cgroupSegments(parent);
    return parent;
  }

  containerCgroupsPath(podParent: string, id: string): string {
    return `${podParent}/${id}`;
  }

  async ensurePod(parent: string, resources: CgroupResources, owned: boolean): Promise<void> {
    ensureCgroup(parent, owned ? resources : {});
  }

  async updatePod(parent: string, resources: CgroupResources): Promise<void> {
    ensureCgroup(parent, resources);
  }

  async removePod(parent: string): Promise<void> {
    await killCgroup(parent).catch(() => undefined); // the rmdir below reports a cgroup that still has processes
    await removeCgroup(parent);
  }

  async adopt(): Promise<void> {}

  close(): void {}
}

export interface SystemdDriverOptions {
  client: SystemdClient;
  mode?: CgroupMode;
  /** For cgroupfs fallbacks (v1 cpusets, pods recorded under the cgroupfs driver): tests' fake root. */
  root?: string;
}

export class SystemdDriver implements CgroupDriver {
  readonly name = 'systemd' as const;
  // runc: create the container's scope through systemd. conmon -s passes it on to `runc create`.
  readonly runtimeArgs = ['--systemd-cgroup'] as const;
  readonly monitorArgs = ['--systemd-cgroup'] as const;
  private readonly client: SystemdClient;
  private readonly mode: CgroupMode;
  private readonly root: string | undefined;

  constructor(o: SystemdDriverOptions) {
    this.client = o.client;
    this.mode = o.mode ?? detectCgroupMode();
    this.root = o.root;
  }

  ownedPodParent(podId: string): string {
    return ownedPodSlice(podId);
  }

  podParent(cgroupParent: string): string {
    // A path ending in a slice ("/test.slice" from critest, "/kubepods.slice/kubepods-pod1.slice")
    // names that slice: containerd and CRI-O take its last element too.
    const parent = cgroupParent.replace(/\/+$/, '').split('/').pop() ?? '';
    if (!isSliceName(parent)) {
      throw invalidArgument(
        `cgroup_parent ${JSON.stringify(cgroupParent)} is not a systemd slice ("<name>.slice"), but cgroup_driver is "systemd": kubelet's cgroupDriver and Bulkhead's cgroup_driver must match`,
      );
    }
    expandSlice(parent);
    return parent;
  }

  containerCgroupsPath(podParent: string, id: string): string {
    // A pod recorded under the cgroupfs driver keeps that form for its later containers.
    return isSliceName(podParent) ? containerCgroupsPath(podParent, id) : `${podParent}/${id}`;
  }

  async ensurePod(parent: string, resources: CgroupResources, owned: boolean): Promise<void> {
    if (this.podParent(parent) !== parent) throw invalidArgument(`pod cgroup ${JSON.stringify(parent)} is not a slice name`);
    const r = owned ? resources : {};
    try {
      await this.client.startTransientUnit(parent, sliceProperties(`Bulkhead pod slice ${parent}`, r, this.mode));
    } catch (e) {
      // kubelet made its pod slice before RunPodSandbox (the usual case): it is kubelet's to size.
      if (!(e instanceof SystemdError && e.code === 'org.freedesktop.systemd1.UnitExists')) throw e;
      if (owned) await this.client.setUnitProperties(parent, resourceProperties(r, this.mode));
    }
    this.v1Cpuset(parent, r);
  }

  async updatePod(parent: string, resources: CgroupResources): Promise<void> {
    if (!isSliceName(parent)) return ensureCgroup(parent, resources, this.fsOpts());
    await this.client.setUnitProperties(parent, resourceProperties(resources, this.mode));
    this.v1Cpuset(parent, resources);
  }

  async removePod(parent: string): Promise<void> {
    if (!isSliceName(parent)) {
      await killCgroup(parent, 'SIGKILL', this.fsOpts()).catch(() => undefined); // the rmdir below reports a cgroup that still has processes
      return removeCgroup(parent, this.fsOpts());
    }
    // Stopping a slice stops every unit in it (container scopes, conmon scopes) and kills their processes.
    await this.client.stopUnit(parent);
  }

  async adopt(podParent: string, name: string, pids: number[]): Promise<void> {
    if (!isSliceName(podParent) || pids.length === 0) return;
    // systemd unit names: ASCII letters, digits, ":-_.\\" (no ":" here: it is runc's separator).
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw invalidArgument(`invalid unit name part ${JSON.stringify(name)}`);
    const unit = `${SCOPE_PREFIX}-${name}.scope`;
    await this.client.startTransientUnit(unit, scopeProperties(`Bulkhead ${name}`, podParent, pids));
  }

  /** systemd has no cpuset properties on cgroup v1: runc writes those to cgroupfs too. */
  private v1Cpuset(slice: string, r: CgroupResources): void {
    if (this.mode === 'v2' || (!r.cpusetCpus && !r.cpusetMems)) return;
    applyResources(expandSlice(slice), { cpusetCpus: r.cpusetCpus, cpusetMems: r.cpusetMems }, this.fsOpts());
  }

  private fsOpts() {
    return { mode: this.mode, ...(this.root ? { root: this.root } : {}) };
  }

  close(): void {
    this.client.close();
  }
}

/** Why the configured driver cannot work on this host, or undefined. Talks to systemd for "systemd". */
export async function cgroupDriverProblem(name: CgroupDriverName, probe: { hostProblem?: () => string | undefined; client?: () => SystemdClient } = {}): Promise<string | undefined> {
  if (name === 'cgroupfs') return undefined;
  const host = (probe.hostProblem ?? systemdHostProblem)();
  if (host) return `cgroup_driver "systemd": ${host}; use cgroup_driver = "cgroupfs" on this host`;
  const client = probe.client ? probe.client() : new SystemdClient((await import('./systemd-dbus.js')).systemBusTransport(), { callTimeoutMs: 3000 });
  try {
    await client.version();
    return undefined;
  } catch (e) {
    return `cgroup_driver "systemd": systemd does not answer on the D-Bus system bus (${(e as Error).message})`;
  } finally {
    client.close();
  }
}

export class CgroupDriverError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CgroupDriverError';
  }
}

/**
 * The driver of the config, checked against the host: a systemd driver without systemd fails
 * here, at start-up, instead of at the first pod.
 */
export async function openCgroupDriver(name: CgroupDriverName): Promise<CgroupDriver> {
  if (name === 'cgroupfs') return new CgroupfsDriver();
  const why = await cgroupDriverProblem(name);
  if (why) throw new CgroupDriverError(why);
  // Loaded only for "systemd": a cgroupfs daemon never loads dbus-next (systemd-dbus.ts).
  const { systemBusTransport } = await import('./systemd-dbus.js');
  return new SystemdDriver({ client: new SystemdClient(systemBusTransport()) });
}
