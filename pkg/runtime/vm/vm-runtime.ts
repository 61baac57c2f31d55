// SandboxRuntime for handlers of kind "vm": each pod is a QEMU micro-VM started inside the pod's network
// namespace and cgroup; its containers run inside the guest under crun, driven over the agent channel.
// Container rootfs (the host overlay the container manager mounts) and CRI volumes reach the guest via
// the pod's virtio-fs share; logs are streamed back into the kubelet log path on the host.
// This file is the CRI-facing seam only; the jobs behind it live beside it:
//   vm-booter.ts         accelerator, guest image, booting one VM (the hypervisor side)
//   pod-vms.ts           a pod's VM: adopt, death watching, reattach after a restart, stop
//   guest-containers.ts  container states in the guest: exit watching, PodVMDied, restore, log shipping
//   pod-network.ts       tap <-> CNI veth wiring and the SetupSandbox request
//   guest-exec.ts        ExecSync through the agent
//   guest-share.ts, guest-spec-rewrite.ts, guest-resources.ts, agent-errors.ts, warm-pool.ts
import { appendFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { VmHandlerConfig } from '../../config/schema.js';
import type { ContainerRecord, SandboxRecord } from '../../store/records.js';
import { KILL_EXIT_WAIT_MS, type ContainerRuntimeState, type ExecSyncExit, type ExecSyncRequest, type SandboxRuntime, type StopRequest, type StreamTarget, type UserNamespaceSupport } from '../sandbox-runtime.js';
import { sleep } from '../../sys/long-timeout.js';
import type { PodNetworkStatus } from '../../network/cni.js';
import type { CgroupStats } from '../../cgroups/stats.js';
import type { OciResources } from '../../oci/spec-types.js';
import { createPodNamespaces, removePodNamespaces } from '../../network/namespaces.js';
import type { CgroupDriver } from '../../cgroups/driver.js';
import { VmPodCgroup } from './vm-cgroup.js';
import { failedPrecondition, internal, invalidArgument } from '../../errors/errors.js';
import type { GuestImage } from '../../vm/guest-image.js';
import { vmProcessAlive } from '../../vm/micro-vm.js';
import { releaseShortSocketDir } from '../../vm/socket-dir.js';
import type { AgentClient } from '../../vmchannel/client.js';
import { GUEST_POD_PIDNS } from '../../vmchannel/protocol.js';
import { createTap } from './tap-network.js';
import { rewriteSpecForGuest } from './guest-spec-rewrite.js';
import { WarmPool } from './warm-pool.js';
import { bindIntoShare, guestShareOf, releaseGuestShare, removeFromShare } from './guest-share.js';
import { readVmDirPointer, writeVmDirPointer } from './vm-dir-pointer.js';
import { SHARE_TAG, VmBooter } from './vm-booter.js';
import { VmStarter, type StartedVm } from './snapshot-start.js';
import { PodVms } from './pod-vms.js';
import { GuestContainers } from './guest-containers.js';
import { setupSandboxRequest, wireTapToVeth } from './pod-network.js';
import { cgroupStatsOf, guestResources } from './guest-resources.js';
import { fromAgent, isAgentNotFound } from './agent-errors.js';
import { execSyncInGuest } from './guest-exec.js';
import { checkFits, hostCpuCount, limitsFromCri, limitsFromOci, podVmSize, sizeFits, sumLimits, type SizingBase, type VmSize } from './vm-size.js';
import { readVmSize, writeVmSize } from './vm-size-record.js';
import { processTree } from '../../sys/proc.js';
import type * as cri from '../../api/cri-types.js';
import { vmmUsage } from '../../vm/vmm-usage.js';
import { readLogBase, writeLogBase } from './log-base.js';
import { nowNs } from '../../store/time.js';

const { SIGKILL } = osConstants.signals;
/**
 * How long a container status waits for its pod VM to be reattached after a daemon restart before it
 * answers from the record (the reattach goes on in the background). Reattaching a healthy VM takes
 * tens of ms; a guest that does not answer would otherwise hold start-up recovery (which walks the
 * containers one by one before the CRI socket listens) for its 2 s QMP + 10 s agent + 10 s list timeouts.
 */
const REATTACH_WAIT_MS = 1000;

export interface VmRuntimeDeps {
  handler: string;
  config: VmHandlerConfig;
  /** Daemon root (guest image cache under <root>/guest). */
  rootDir: string;
  /** Daemon state dir: pod VM dirs are <state>/pods/<id>/vm (found again after a restart). */
  stateDir: string;
  log: Logger;
  /** Default: cgroupfs (<pod cgroup>/vm). */
  cgroups?: CgroupDriver;
}

/** The accelerator and guest image a VM handler uses (reported in Status). */
export interface VmHandlerInfo {
  accelerator: string;
  acceleratorReason: string;
  guestStamp: string;
  poolSize: number;
  poolReady: number;
  /** How pod VMs start (snapshot-start.ts) and why: the configured start_from meets the binaries. */
  startFrom: 'boot' | 'snapshot';
  startFromReason: string;
  unavailable?: string;
}

export class VmSandboxRuntime implements SandboxRuntime {
  readonly kind = 'vm' as const;
  readonly handler: string;
  private readonly booter: VmBooter;
  private readonly starter: VmStarter;
  private readonly pods: PodVms;
  private readonly ctrs = new GuestContainers();
  private readonly pool: WarmPool<StartedVm>;
  /** What pod sizes are computed from (vm-size.ts). */
  private readonly sizing: SizingBase;
  /** The size every warm-pool VM boots with. */
  private readonly poolVmSize: VmSize;
  private readonly podCgroup: VmPodCgroup;

  constructor(private readonly deps: VmRuntimeDeps) {
    this.handler = deps.handler;
    this.podCgroup = new VmPodCgroup(deps.cgroups);
    this.booter = new VmBooter(deps.config, deps.rootDir, deps.log);
    this.starter = new VmStarter(deps.config, this.booter, { root: deps.rootDir, state: deps.stateDir, handler: deps.handler }, deps.log);
    this.pods = new PodVms(deps.stateDir, deps.log, {
      died: (podId, why, log) => this.ctrs.podDied(podId, why, log),
      reattached: (podId, pod, log) => this.ctrs.restore(podId, pod, log),
    });
    this.sizing = { vcpus: deps.config.vcpus, memoryMib: deps.config.memory_mib, hostCpus: hostCpuCount() };
    this.poolVmSize = { vcpus: deps.config.pool_vcpus ?? deps.config.vcpus, memoryMib: deps.config.pool_memory_mib ?? deps.config.memory_mib };
    this.pool = new WarmPool(
      deps.config.pool_size,
      join(deps.stateDir, 'vm-pool', deps.handler),
      async (r) => {
        const b = await this.starter.start({ ...r, ...this.poolVmSize, cgroupProcs: [], log: deps.log });
        writeVmSize(b.vmDir, this.poolVmSize);
        return b;
      },
      deps.log.child({ pool: deps.handler }),
      deps.handler,
    );
  }

  get accelerator(): 'kvm' | 'tcg' | undefined {
    return this.booter.accel?.accel;
  }

  /** Cleans what an earlier daemon left in the pool, then starts filling it (after the guest image is ready). */
  async startPool(): Promise<void> {
    await WarmPool.cleanStale(join(this.deps.stateDir, 'vm-pool', this.deps.handler), this.deps.log);
    if (this.deps.config.pool_size > 0 && !this.booter.unavailable) {
      await this.guestImage();
      this.pool.refill();
    }
  }

  get poolReady(): number {
    return this.pool.readyCount;
  }

  /**
   * Refused, not accepted-and-ignored: the guest's crun would run the containers as ids that are
   * not the requested host ranges (the pod would see no mapping in /proc/self/uid_map), and
   * virtiofsd serves volumes with the host's ids, not idmapped. The VM is this handler's
   * boundary already; hostUsers: true is the way to run it.
   */
  userNamespaces(): UserNamespaceSupport {
    return { unsupported: `runtime handler "${this.deps.handler}" (micro-VM): the VM is the isolation boundary and pods run with the guest's ids; use hostUsers: true` };
  }

  info(): VmHandlerInfo {
    const accel = this.booter.accel;
    const unavailable = this.booter.unavailable;
    return {
      accelerator: accel?.accel ?? 'none',
      acceleratorReason: accel?.reason ?? unavailable ?? '',
      guestStamp: this.booter.guestStamp,
      poolSize: this.deps.config.pool_size,
      poolReady: this.pool.readyCount,
      startFrom: this.starter.startFrom,
      startFromReason: this.starter.reason,
      ...(unavailable ? { unavailable } : {}),
    };
  }

  /** Builds (or reuses) the guest image; the daemon calls it at start so the first pod does not wait. */
  guestImage(): Promise<GuestImage> {
    return this.booter.guestImage();
  }

  async startSandbox(sb: SandboxRecord, log: Logger, withNamespaces?: () => Promise<void>): Promise<void> {
    if (this.booter.unavailable || !this.booter.accel) throw failedPrecondition(`runtime handler "${this.handler}": ${this.booter.unavailable}`);
    const ns = sb.config.linux?.security_context?.namespace_options;
    const hostOnes = [ns?.network === 'NODE' && 'hostNetwork', ns?.pid === 'NODE' && 'hostPID', ns?.ipc === 'NODE' && 'hostIPC'].filter(Boolean);
    if (hostOnes.length) {
      throw invalidArgument(`runtime handler "${this.handler}" runs the pod in a micro-VM: ${hostOnes.join(', ')} cannot be honoured across the VM boundary (use a namespace handler such as runc)`);
    }
    await this.guestImage();
    await mkdir(sb.stateDir, { recursive: true, mode: 0o711 });
    // Pod-level PID namespace (CRI POD mode): created by the agent inside the guest on first use.
    const podPid = (ns?.pid ?? 'POD') === 'POD';
    // A pre-booted VM serves the pod when the pod's own size fits in it (it may get more than it needs).
    const size = this.podSize(sb);
    const warm = sizeFits(size, this.poolVmSize) ? this.pool.take(sb.stateDir) : undefined;
    if (warm) {
      sb.namespaces = { net: warm.netns, ...(podPid ? { pid: GUEST_POD_PIDNS } : {}) };
      writeVmDirPointer(sb.stateDir, warm.vmDir);
      // QEMU, virtiofsd and the children they forked while pooled (virtiofsd's sandbox worker, forked
      // when QEMU connected): what they use from now on is the pod's. cgroup v2 does not move memory
      // charged before the move (it stays where the pool booted them); PodSandboxStats reads the
      // VMM's own usage from /proc for that reason.
      await this.podCgroup.place(sb, [...processTree(warm.vm.pid), ...processTree(warm.vfs.pid)]);
      this.pods.adopt(sb.id, warm, log);
      log.info({ podId: sb.id, vmPid: warm.vm.pid, podSize: size, vmSize: this.poolVmSize, startedFrom: warm.startedFrom }, 'pod takes a pre-booted VM from the warm pool');
      this.pool.refill();
      await withNamespaces?.();
      return;
    }
    const pinned = await createPodNamespaces({ dir: join(sb.stateDir, 'ns'), net: true, ipc: false, uts: false, sysctls: {} });
    sb.namespaces = { net: pinned.net, ...(podPid ? { pid: GUEST_POD_PIDNS } : {}) };
    await createTap(pinned.net!);
    log.debug({ podId: sb.id }, 'pod netns and tap ready');
    await withNamespaces?.();
  }

  /** The VM the pod's limits call for (vm-size.ts: handler defaults when it sets none). */
  private podSize(sb: SandboxRecord): VmSize {
    return podVmSize(limitsFromCri(sb.config.linux?.resources), this.sizing);
  }

  /** After CNI ADD: wire the tap to the veth, boot the VM (unless it came from the pool), configure the guest. */
  async podNetworkReady(sb: SandboxRecord, net: PodNetworkStatus | undefined, log: Logger): Promise<void> {
    const netns = sb.namespaces.net!;
    const veth = await wireTapToVeth(netns, net);
    let pod = this.pods.get(sb.id);
    let startedFrom = 'pool';
    if (!pod) {
      const vmDir = join(sb.stateDir, 'vm');
      mkdirSync(vmDir, { recursive: true, mode: 0o700 });
      const size = this.podSize(sb);
      const booted = await this.starter.start({ name: `bulkhead-${sb.id.slice(0, 12)}`, vmDir, netns, ...size, cgroupProcs: this.podCgroup.procsFiles(sb), log });
      writeVmSize(vmDir, size);
      log.info({ podId: sb.id, vcpus: size.vcpus, memoryMib: size.memoryMib, startedFrom: booted.startedFrom }, 'pod VM sized');
      pod = this.pods.adopt(sb.id, booted, log);
      startedFrom = booted.startedFrom;
      // systemd: out of the daemon's unit into the pod slice, so a bulkhead.service restart cannot
      // take the VM down. A failure costs only that; the pod stays.
      await this.podCgroup.place(sb, [booted.vm.pid, booted.vfs.pid]).catch((e: unknown) => log.warn({ podId: sb.id, err: (e as Error).message }, 'moving the pod VM into its cgroup failed'));
    }
    try {
      await pod.vm.agent.call('setup_sandbox', setupSandboxRequest(sb, net, veth, pod.bootMac, SHARE_TAG), { timeoutMs: 30_000 });
      log.info({ podId: sb.id, vmPid: pod.vm.pid, accel: this.booter.accel!.accel, mac: veth?.mac ?? '', startedFrom }, 'pod VM ready');
    } catch (e) {
      log.warn({ podId: sb.id, console: pod.vm.consoleTail(1500) }, 'pod VM setup failed');
      await this.pods.stop(sb.id);
      throw fromAgent('pod VM agent', e);
    }
  }

  sandboxAlive(sb: SandboxRecord): boolean | undefined {
    const p = this.pods.get(sb.id);
    // Not reattached yet (daemon restarted): QEMU may have died meanwhile, or been shut down by a
    // StopPodSandbox the kill cut off before its record was saved. The pidfile tells.
    return p ? !p.dead : vmProcessAlive(readVmDirPointer(sb.stateDir));
  }

  async stopSandbox(sb: SandboxRecord, _log: Logger): Promise<void> {
    await this.pods.stop(sb.id);
  }

  async removeSandbox(sb: SandboxRecord, log: Logger): Promise<void> {
    await this.pods.stop(sb.id);
    const vmDir = readVmDirPointer(sb.stateDir);
    releaseShortSocketDir(vmDir);
    this.pods.forget(sb.id);
    releaseGuestShare(vmDir);
    // By fixed path too: a crash during the boot may have pinned them before the record said so
    // (the SIGKILL churn found such a rollback failing with EBUSY on the still-mounted netns).
    const pinned: { net?: string; ipc?: string; uts?: string } = sb.namespaces.net ? { net: sb.namespaces.net } : {};
    for (const kind of ['net', 'ipc', 'uts'] as const) if (existsSync(join(sb.stateDir, 'ns', kind))) pinned[kind] = join(sb.stateDir, 'ns', kind);
    if (Object.keys(pinned).length) await removePodNamespaces(pinned);
    await this.podCgroup.remove(sb).catch((e: unknown) => log.warn({ podId: sb.id, err: (e as Error).message }, 'pod cgroup removal failed'));
    // A VM taken from the pool lives (with its netns, removed above) in a pool slot dir.
    if (!vmDir.startsWith(sb.stateDir + '/')) await rm(dirname(vmDir), { recursive: true, force: true });
    await rm(sb.stateDir, { recursive: true, force: true });
    log.debug({ podId: sb.id }, 'pod VM resources removed');
  }

  async createContainer(sb: SandboxRecord, c: ContainerRecord, log: Logger): Promise<void> {
    const pod = await this.pods.running(sb.id);
    if ((c.config.devices ?? []).length > 0) throw invalidArgument('host devices cannot be passed into a micro-VM pod');
    const spec = JSON.parse(await readFile(join(c.bundleDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    const privileged = !!c.config.linux?.security_context?.privileged;
    const { spec: guestSpec, shares } = rewriteSpecForGuest(spec, c.id, sb.files, undefined, { privileged });
    const share = guestShareOf(pod.vmDir);
    try {
      // The rootfs stays writable on the host (crun in the guest creates mount points in it).
      bindIntoShare(share, { source: c.rootfs, rel: `${c.id}/rootfs`, recursive: true, readonly: false });
      for (const s of shares) bindIntoShare(share, { source: s.source, rel: `${c.id}/${s.name}`, recursive: s.recursive, readonly: s.readonly });
      await writeFile(join(c.bundleDir, 'guest-config.json'), JSON.stringify(guestSpec));
      await pod.vm.agent.call('create_container', { container_id: c.id, spec_json: JSON.stringify(guestSpec), rootfs: { shared_path: `${c.id}/rootfs` }, stdin: c.stdin, tty: c.tty }, { timeoutMs: 60_000 });
    } catch (e) {
      removeFromShare(share, c.id);
      throw fromAgent('guest agent', e);
    }
    this.ctrs.set(c.id, { podId: sb.id, state: { status: 'created', pid: 0 }, logOffset: 0 });
    // kubelet reads the log as soon as the container runs; the guest's lines arrive later.
    if (c.logPath) {
      mkdirSync(dirname(c.logPath), { recursive: true });
      appendFileSync(c.logPath, '');
    }
    log.debug({ podId: sb.id, containerId: c.id, shares: shares.length }, 'container created in pod VM');
  }

  async startContainer(c: ContainerRecord, log: Logger): Promise<void> {
    const pod = await this.pods.running(c.podId);
    const vc = this.ctrs.get(c.id);
    if (!vc) throw failedPrecondition(`container ${c.id} is not known to the pod VM`);
    // The log file exists once the container started (kubelet and critest open it right away), even
    // before the guest shipped any output.
    if (c.logPath) {
      mkdirSync(dirname(c.logPath), { recursive: true });
      appendFileSync(c.logPath, '');
    }
    await this.ctrs.followLog(pod, c, vc, log);
    const r = await pod.vm.agent.call('start_container', { container_id: c.id }, { timeoutMs: 60_000 }).catch((e: unknown) => {
      throw fromAgent('guest agent', e);
    });
    vc.state = { status: 'running', pid: r.pid };
    c.pid = vc.state.pid;
    void this.ctrs.watchExit(c.id, pod, log);
  }

  async stopContainer(c: ContainerRecord, stop: StopRequest, log: Logger): Promise<void> {
    if (!this.ctrs.has(c.id)) await this.pods.reattach(c.podId);
    const vc = this.ctrs.get(c.id);
    if (!vc || vc.state.status !== 'running') return;
    const pod = this.pods.get(c.podId);
    if (!pod || pod.dead) return;
    // An agent that cannot wait (container gone, VM died under the call) counts as exited.
    const exit = pod.vm.agent.call('wait_container', { container_id: c.id }).then(() => true, () => true);
    const exitedWithin = async (ms: number): Promise<boolean> => {
      const timer = new AbortController();
      try {
        return await Promise.race([exit, sleep(ms, timer.signal, { unref: true }).then(() => false)]);
      } finally {
        timer.abort();
      }
    };
    if (stop.timeoutMs > 0 && stop.signal !== SIGKILL) {
      await pod.vm.agent.call('signal_container', { container_id: c.id, signal: stop.signal }).catch(() => undefined);
      if (await exitedWithin(stop.timeoutMs)) return this.ctrs.settle(c.id);
    }
    log.debug({ containerId: c.id }, 'stop timeout: SIGKILL');
    const killError = await pod.vm.agent.call('signal_container', { container_id: c.id, signal: SIGKILL, all: true }).then(() => undefined, (e: unknown) => e as Error);
    if (!(await exitedWithin(KILL_EXIT_WAIT_MS)) && this.ctrs.get(c.id)?.state.status === 'running') {
      throw internal(`container ${c.id} did not exit after SIGKILL${killError ? ` (${killError.message})` : ''}`);
    }
    await this.ctrs.settle(c.id);
  }

  async removeContainer(c: ContainerRecord, log: Logger): Promise<void> {
    const pod = this.pods.get(c.podId) ?? (await this.pods.reattach(c.podId));
    if (pod && !pod.dead) {
      await pod.vm.agent.call('delete_container', { container_id: c.id }, { timeoutMs: 30_000 }).catch((e: unknown) => {
        if (!isAgentNotFound(e)) log.warn({ containerId: c.id, err: (e as Error).message }, 'guest delete failed');
      });
    }
    if (pod) removeFromShare(guestShareOf(pod.vmDir), c.id);
    this.ctrs.delete(c.id);
  }

  async containerState(c: ContainerRecord): Promise<ContainerRuntimeState> {
    if (!this.ctrs.has(c.id) && c.state !== 'CONTAINER_EXITED') await this.pods.reattachWithin(c.podId, REATTACH_WAIT_MS);
    const vc = this.ctrs.get(c.id);
    const pod = this.pods.get(c.podId);
    if (vc && pod && !pod.dead && !vc.following && !vc.logDone && c.logPath && vc.state.status !== 'created') {
      // After a restart: resume shipping where the host log ends; a rotated log starts at the offset
      // shipped before its ReopenContainerLog (log-base.ts).
      // Not awaited: a guest that never answers FollowLogs must not hold the status (or start-up).
      if (vc.logOffset === 0) vc.logOffset = readLogBase(c.bundleDir) + fileSize(c.logPath);
      void this.ctrs.followLog(pod, c, vc, this.deps.log.child({ podId: c.podId, containerId: c.id }));
    }
    const known = this.ctrs.get(c.id)?.state;
    if (known) return known;
    // The VM died while the daemon was down: nothing inside can still run.
    if (c.state !== 'CONTAINER_EXITED' && !vmProcessAlive(readVmDirPointer(join(this.deps.stateDir, 'pods', c.podId)))) return this.ctrs.vmGone(c);
    return { status: c.state === 'CONTAINER_EXITED' ? 'exited' : 'unknown', pid: 0 };
  }

  async execSync(c: ContainerRecord, req: ExecSyncRequest, log: Logger): Promise<ExecSyncExit> {
    return execSyncInGuest((await this.pods.running(c.podId)).vm.agent, c.id, req, log);
  }

  /** cgroup v2 stats of the container inside the guest, via the agent. */
  async containerCgroupStats(c: ContainerRecord): Promise<CgroupStats | undefined> {
    const vc = this.ctrs.get(c.id);
    const pod = this.pods.get(c.podId);
    if (!vc || vc.state.status !== 'running' || !pod || pod.dead) return undefined;
    const r = await pod.vm.agent.call('stats', { container_ids: [c.id] }, { timeoutMs: 5000 });
    const st = r.stats[0];
    return st ? cgroupStatsOf(st) : undefined;
  }

  /**
   * What the pod costs the node: its VM's host processes (QEMU, virtiofsd and their children) from
   * /proc (pkg/vm/vmm-usage.ts). QEMU's CPU time and PSS hold the guest's containers plus the VMM
   * overhead, whichever cgroup the VM was booted in (warm pool). process_count is the host's
   * processes: the guest's own pids use none of the node's.
   */
  async sandboxStats(sb: SandboxRecord): Promise<CgroupStats | undefined> {
    const pod = this.pods.get(sb.id);
    if (!pod || pod.dead) return undefined;
    const u = vmmUsage([...processTree(pod.vm.pid), ...(pod.vfs.alive() ? processTree(pod.vfs.pid) : [])]);
    if (!u.processes) return undefined;
    return {
      timestampNs: BigInt(nowNs()),
      cpu: { usageNs: u.cpuNs },
      memory: { usageBytes: u.memoryBytes, workingSetBytes: u.memoryBytes, rssBytes: u.memoryBytes, cacheBytes: 0, pageFaults: 0, majorPageFaults: 0, oomKills: 0, limitHits: 0 },
      pids: { current: u.processes },
    };
  }

  async updateResources(c: ContainerRecord, r: OciResources, others: readonly ContainerRecord[] = []): Promise<void> {
    const pod = await this.pods.running(c.podId);
    const have = readVmSize(pod.vmDir);
    if (have) {
      const rest = others.map((o) => limitsFromCri(o.resources ?? o.config.linux?.resources));
      const now = sumLimits([limitsFromCri(c.resources ?? c.config.linux?.resources), ...rest]);
      checkFits(`UpdateContainerResources of container ${c.id}`, sumLimits([limitsFromOci(r), ...rest]), have, this.sizing, now);
    }
    await pod.vm.agent.call('update_resources', { container_id: c.id, resources: guestResources(r) });
  }

  /** UpdatePodSandboxResources: the pod's new limits must fit the VM it booted with. */
  async checkSandboxResources(sb: SandboxRecord, resources: cri.LinuxContainerResources__Output | null): Promise<void> {
    const have = readVmSize(readVmDirPointer(sb.stateDir));
    if (!have) return; // no VM (never booted, or removed): nothing to outgrow
    checkFits(`UpdatePodSandboxResources of pod ${sb.id}`, limitsFromCri(resources), have, this.sizing, limitsFromCri(sb.config.linux?.resources));
  }

  async reopenLog(c: ContainerRecord): Promise<void> {
    // Each chunk is appended by path, so the next write goes to the new file; it exists from now on
    // (as after conmon's reopen). It starts at the offset shipped so far: recorded for a restart.
    const vc = this.ctrs.get(c.id);
    if (vc) writeLogBase(c.bundleDir, vc.logOffset);
    if (c.logPath) appendFileSync(c.logPath, '');
  }

  /**
   * Streaming for VM pods goes through the agent (pkg/streaming/vm-backend.ts); this only satisfies the
   * lookup the CRI Exec/Attach/PortForward handlers do before registering a session.
   */
  streamTarget(_sb: SandboxRecord | undefined, c: ContainerRecord): StreamTarget {
    return { id: c.id, podId: c.podId, pid: c.pid, bundleDir: c.bundleDir, runtimePath: '', runtimeRoot: '', attachSocketPath: '', ctlPath: '', tty: c.tty, stdin: c.stdin };
  }

  /** The connected agent of a pod's VM (reattaching after a restart if needed). */
  async agentOf(podId: string): Promise<AgentClient> {
    return (await this.pods.running(podId)).vm.agent;
  }

  onExit(listener: (containerId: string) => void): void {
    this.ctrs.onExit(listener);
  }

  async close(): Promise<void> {
    await this.booter.close(); // first: a warm-pool boot may be waiting on the build
    await this.pool.close();
    this.pods.closeChannels();
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

export { readVmDirPointer } from './vm-dir-pointer.js';
