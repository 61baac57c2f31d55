// The pod controller of micro-VM handlers: a pod is a QEMU VM started inside the pod's network
// namespace and cgroup (from the warm pool when one fits), configured once CNI has run, stopped and
// removed with everything it pinned. Its containers are the VM task runtime's (vm-task-runtime.ts).
import { existsSync, mkdirSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { VmHandlerInfo, VmRuntimeDeps } from './vm-handler-deps.js';
import type { SandboxRecord } from '../../store/records.js';
import type { PodController } from '../pod-controller.js';
import type { Duplex } from 'node:stream';
import { portForwardInGuest } from './vm-streams.js';
import type { PodNetworkStatus } from '../../network/cni.js';
import type { CgroupStats } from '../../cgroups/stats.js';
import { createPodNamespaces, removePodNamespaces } from '../../network/namespaces.js';
import { VmPodCgroup } from './vm-cgroup.js';
import { failedPrecondition, invalidArgument } from '../../errors/errors.js';
import type { GuestImage } from '../../vm/guest-image.js';
import { vmProcessAlive } from '../../vm/micro-vm.js';
import { releaseShortSocketDir } from '../../vm/socket-dir.js';
import { GUEST_POD_PIDNS } from '../../vmchannel/protocol.js';
import { createTap } from './tap-network.js';
import { WarmPool } from './warm-pool.js';
import { releaseGuestShare } from './guest-share.js';
import { SHARE_TAG, VmBooter } from './vm-booter.js';
import { warmUpPooled } from './pool-warm-up.js';
import { VmStarter, type StartedVm } from './snapshot-start.js';
import { PodVms } from './pod-vms.js';
import { setupSandboxRequest, wireTapToVeth } from './pod-network.js';
import { fromAgent } from './agent-errors.js';
import { checkFits, limitsFromCri, podVmSize, sizeFits, type SizingBase, type VmSize } from './vm-size.js';
import { checkPodCgroupFits, fitsPodCgroup, vmmOverheadMib, type PodCgroupFit } from './vm-fit.js';
import { cgroupMemoryLimit } from '../../cgroups/memory-limit.js';
import { cgroupFsPath } from '../../cgroups/systemd-names.js';
import { loadPodVmState, podVmDir, savePodVmState } from './vm-state.js';
import { processTree } from '../../sys/proc.js';
import type * as cri from '../../api/cri-types.js';
import { vmmUsage } from '../../vm/vmm-usage.js';
import { nowNs } from '../../store/time.js';

/**
 * How long the guest may take to configure the pod (addresses, routes, DNS, the share mount). A few
 * hundred ms alone, but its first commands run on a cold translation cache: 3 VM pods started at
 * once under TCG at load ~20 (bench burst) overran the 30 s this used to be. 90 s plus a boot of
 * up to 30 s stays inside kubelet's RunPodSandbox deadline (runtimeRequestTimeout, 2 min by default).
 */
const SETUP_SANDBOX_TIMEOUT_MS = 90_000;

/** What pod sizes are computed from and the size every warm-pool VM boots with (vm-size.ts). */
export interface VmSizing {
  base: SizingBase;
  pool: VmSize;
}

export class VmPodController implements PodController {
  readonly handler: string;
  private readonly booter: VmBooter;
  private readonly starter: VmStarter;
  private readonly pool: WarmPool<StartedVm>;
  private readonly sizing: SizingBase;
  private readonly poolVmSize: VmSize;
  private readonly podCgroup: VmPodCgroup;

  constructor(
    private readonly deps: VmRuntimeDeps,
    private readonly pods: PodVms,
    sizing: VmSizing,
  ) {
    this.handler = deps.handler;
    this.podCgroup = new VmPodCgroup(deps.cgroups);
    this.booter = new VmBooter(deps.config, deps.rootDir, deps.log);
    this.starter = new VmStarter(deps.config, this.booter, { root: deps.rootDir, state: deps.stateDir, handler: deps.handler }, deps.log);
    this.sizing = sizing.base;
    this.poolVmSize = sizing.pool;
    this.pool = new WarmPool(
      deps.config.pool_size,
      join(deps.stateDir, 'vm-pool', deps.handler),
      // Its size is the pod's to record when one takes it (savePodVmState in startSandbox).
      (r) => this.starter.start({ ...r, ...this.poolVmSize, cgroupProcs: [], log: deps.log }).then((b) => warmUpPooled(b, deps.log)),
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
    // Before anything is made: a VM its pod cgroup cannot hold is refused (vm-fit.ts).
    const size = this.podSize(sb);
    const fit = this.cgroupFit(sb, size);
    checkPodCgroupFits(fit);
    await this.guestImage();
    await mkdir(sb.stateDir, { recursive: true, mode: 0o711 });
    // Pod-level PID namespace (CRI POD mode): created by the agent inside the guest on first use.
    const podPid = (ns?.pid ?? 'POD') === 'POD';
    // A pre-booted VM serves the pod when the pod's own size fits in it (it may get more than it
    // needs) and the pod cgroup can hold that bigger VM; else the pod boots its own.
    const warm = sizeFits(size, this.poolVmSize) && fitsPodCgroup({ ...fit, size: this.poolVmSize }) ? this.pool.take(sb.stateDir) : undefined;
    if (warm) {
      sb.namespaces = { net: warm.netns, ...(podPid ? { pid: GUEST_POD_PIDNS } : {}) };
      savePodVmState(sb.stateDir, { vmDir: warm.vmDir, size: this.poolVmSize, startedFrom: `pool (${warm.startedFrom})` });
      // QEMU, virtiofsd and the children they forked while pooled (virtiofsd's sandbox worker, forked
      // when QEMU connected): what they use from now on is the pod's. cgroup v2 does not move memory
      // charged before the move (it stays where the pool booted them); PodSandboxStats reads the
      // VMM's own usage from /proc for that reason.
      await this.podCgroup.place(sb, [...processTree(warm.vm.pid), ...processTree(warm.vfs.pid)]);
      this.pods.adopt(sb.id, warm, log);
      log.info({ podId: sb.id, vmPid: warm.vm.pid, podSize: size, vmSize: this.poolVmSize, startedFrom: warm.startedFrom }, 'pod takes a pre-booted VM from the warm pool');
      this.pool.refillAfterTake();
      await withNamespaces?.();
      return;
    }
    const pinned = await createPodNamespaces({ dir: join(sb.stateDir, 'ns'), net: true, ipc: false, uts: false, sysctls: {} });
    sb.namespaces = { net: pinned.net, ...(podPid ? { pid: GUEST_POD_PIDNS } : {}) };
    await createTap(pinned.net!);
    log.debug({ podId: sb.id }, 'pod netns and tap ready');
    await withNamespaces?.();
  }

  /** The pod cgroup's memory limit against a VM of this size (vm-fit.ts). */
  private cgroupFit(sb: SandboxRecord, size: VmSize): PodCgroupFit {
    const cgroup = cgroupFsPath(sb.cgroupParent);
    return {
      handler: this.handler,
      cgroup,
      limitBytes: (this.deps.podMemoryLimit ?? cgroupMemoryLimit)(cgroup),
      size,
      vmmMib: vmmOverheadMib(this.booter.accel!.accel, this.deps.config.tcg_tb_size_mib),
      criOverheadBytes: Number(sb.config.linux?.overhead?.memory_limit_in_bytes ?? 0) || 0,
      criLimitsBytes: Number(sb.config.linux?.resources?.memory_limit_in_bytes ?? 0) || 0,
    };
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
      savePodVmState(sb.stateDir, { vmDir, size, startedFrom: booted.startedFrom });
      log.info({ podId: sb.id, vcpus: size.vcpus, memoryMib: size.memoryMib, startedFrom: booted.startedFrom }, 'pod VM sized');
      pod = this.pods.adopt(sb.id, booted, log);
      startedFrom = booted.startedFrom;
      // systemd: out of the daemon's unit into the pod slice, so a bulkhead.service restart cannot
      // take the VM down. A failure costs only that; the pod stays.
      await this.podCgroup.place(sb, [booted.vm.pid, booted.vfs.pid]).catch((e: unknown) => log.warn({ podId: sb.id, err: (e as Error).message }, 'moving the pod VM into its cgroup failed'));
    }
    try {
      const t0 = performance.now();
      await pod.vm.agent.call('setup_sandbox', setupSandboxRequest(sb, net, veth, pod.bootMac, SHARE_TAG), { timeoutMs: SETUP_SANDBOX_TIMEOUT_MS });
      const setupSandboxMs = Math.round(performance.now() - t0);
      log.info({ podId: sb.id, vmPid: pod.vm.pid, accel: this.booter.accel!.accel, mac: veth?.mac ?? '', startedFrom, setupSandboxMs }, 'pod VM ready');
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
    return p ? !p.dead : vmProcessAlive(podVmDir(sb.stateDir));
  }

  async stopSandbox(sb: SandboxRecord, _log: Logger): Promise<void> {
    await this.pods.stop(sb.id);
  }

  async removeSandbox(sb: SandboxRecord, log: Logger): Promise<void> {
    await this.pods.stop(sb.id);
    const vmDir = podVmDir(sb.stateDir);
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

  /** UpdatePodSandboxResources: the pod's new limits must fit the VM it booted with. */
  async checkSandboxResources(sb: SandboxRecord, resources: cri.LinuxContainerResources__Output | null): Promise<void> {
    const have = loadPodVmState(sb.stateDir).size;
    if (!have) return; // no VM (never booted, or removed): nothing to outgrow
    checkFits(`UpdatePodSandboxResources of pod ${sb.id}`, limitsFromCri(resources), have, this.sizing, limitsFromCri(sb.config.linux?.resources));
  }

  async portForward(sb: SandboxRecord, port: number): Promise<Duplex> {
    return portForwardInGuest((await this.pods.running(sb.id)).vm.agent, port);
  }

  async close(): Promise<void> {
    await this.booter.close(); // first: a warm-pool boot may be waiting on the build
    await this.pool.close();
  }
}
