// SandboxRuntime for handlers of kind "vm": each pod is a QEMU micro-VM started inside the pod's network
// namespace and cgroup; its containers run inside the guest under crun, driven over the agent channel.
// Container rootfs (the host overlay the container manager mounts) and CRI volumes reach the guest via
// the pod's virtio-fs share; logs are streamed back into the kubelet log path on the host.
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { VmHandlerConfig } from '../../config/schema.js';
import type { ContainerRecord, SandboxRecord } from '../../store/records.js';
import { KILL_EXIT_WAIT_MS, type ContainerRuntimeState, type ExecSyncExit, type ExecSyncRequest, type SandboxRuntime, type StopRequest, type StreamTarget } from '../sandbox-runtime.js';
import { MAX_TIMER_MS, sleep } from '../../sys/long-timeout.js';
import type { PodNetworkStatus } from '../../network/cni.js';
import type { CgroupStats } from '../../cgroups/stats.js';
import type { OciResources } from '../../oci/spec-types.js';
import { createPodNamespaces, removePodNamespaces } from '../../network/namespaces.js';
import { cgroupDirs } from '../../cgroups/paths.js';
import { ensureCgroup, removeCgroup } from '../../cgroups/pod-cgroup.js';
import { cgroupFsPath } from '../../cgroups/systemd-names.js';
import { CriError, failedPrecondition, internal, invalidArgument, notFound } from '../../grpc/errors.js';
import { chooseAccelerator, type AccelChoice } from '../../vm/accelerator.js';
import { pickVmRunAs, qemuDropOption } from '../../vm/qemu-privileges.js';
import { hostTscKhz } from '../../vm/tsc.js';
import { ensureGuestImage, type GuestImage } from '../../vm/guest-image.js';
import { MicroVm, vmProcessAlive } from '../../vm/micro-vm.js';
import { adoptVirtiofsd, startVirtiofsd, type Virtiofsd } from '../../vm/virtiofsd.js';
import { releaseShortSocketDir, shortSocketDir } from '../../vm/socket-dir.js';
import { AgentError } from '../../vmchannel/codec.js';
import type { AgentClient } from '../../vmchannel/client.js';
import { createTap, linkMac, linkMtu, redirectTapToVeth, setLinkMtu, TAP_NAME } from './tap-network.js';
import { rewriteSpecForGuest } from './guest-spec-rewrite.js';
import { WarmPool } from './warm-pool.js';
import { bindIntoShare, createGuestShare, guestShareOf, releaseGuestShare, removeFromShare } from './guest-share.js';
import { readVmDirPointer, writeVmDirPointer } from './vm-dir-pointer.js';
import { LogShipper } from './log-shipper.js';

const SHARE_TAG = 'bulkhead';
/** Marker the agent maps to the guest's pod PID namespace (pkg/agent/containers.ts POD_PIDNS_MARKER). */
export const GUEST_POD_PIDNS = '/run/bulkhead/pod-pidns';
const AGENT_TIMEOUT_MS = 120_000;
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
}

/** A booted VM with its agent answering (for a pod, or waiting in the warm pool). */
export interface BootedVm {
  vm: MicroVm;
  vfs: Virtiofsd;
  vmDir: string;
  shareDir: string;
  netns: string;
  /** MAC the guest NIC booted with (the agent switches it to the CNI veth's). */
  bootMac: string;
  readyMs: number;
}

interface PodVm {
  vm: MicroVm;
  vfs: Virtiofsd;
  vmDir: string;
  shareDir: string;
  netns: string;
  bootMac: string;
  dead: boolean;
  /** Set by stopPodVm: the VM and virtiofsd are going away on purpose. */
  stopping?: boolean;
  /** Why the daemon ended the VM itself (e.g. virtiofsd died), for the containers' exit message. */
  deathCause?: string;
}

interface VmContainer {
  podId: string;
  state: ContainerRuntimeState;
  /** Bytes of the guest log already appended to the host log. */
  logOffset: number;
  following?: boolean;
  /** The agent sent the whole log of the exited container. */
  logDone?: boolean;
}

/** The accelerator and guest image a VM handler uses (reported in Status). */
export interface VmHandlerInfo {
  accelerator: string;
  acceleratorReason: string;
  guestStamp: string;
  poolSize: number;
  poolReady: number;
  unavailable?: string;
}

export class VmSandboxRuntime implements SandboxRuntime {
  readonly kind = 'vm' as const;
  readonly handler: string;
  private readonly accel: AccelChoice | undefined;
  private readonly accelError: string | undefined;
  private guest: Promise<GuestImage> | undefined;
  private guestStamp = '';
  private readonly pods = new Map<string, PodVm>();
  get accelerator(): 'kvm' | 'tcg' | undefined {
    return this.accel?.accel;
  }
  private readonly ctrs = new Map<string, VmContainer>();
  private readonly exitListeners: ((id: string) => void)[] = [];
  private readonly pool: WarmPool;

  constructor(private readonly deps: VmRuntimeDeps) {
    this.handler = deps.handler;
    try {
      this.accel = chooseAccelerator(deps.config.accelerator, deps.config.kernel_path);
      if (this.accel.accel === 'tcg') deps.log.warn({ reason: this.accel.reason }, 'micro-VM pods use TCG (software emulation): slow boots and CPU');
      else deps.log.info({ reason: this.accel.reason }, 'micro-VM pods use KVM');
    } catch (e) {
      this.accelError = (e as Error).message;
      deps.log.error({ err: this.accelError }, 'micro-VM handler unavailable');
    }
    const poolDir = join(deps.stateDir, 'vm-pool', deps.handler);
    this.pool = new WarmPool(
      deps.config.pool_size,
      poolDir,
      (r) => this.bootVm({ ...r, memoryMib: deps.config.memory_mib, cgroupProcs: [], log: deps.log }),
      deps.log.child({ pool: deps.handler }),
      deps.handler,
    );
  }

  /** Cleans what an earlier daemon left in the pool, then starts filling it (after the guest image is ready). */
  async startPool(): Promise<void> {
    await WarmPool.cleanStale(join(this.deps.stateDir, 'vm-pool', this.deps.handler), this.deps.log);
    if (this.deps.config.pool_size > 0 && !this.accelError) {
      await this.guestImage();
      this.pool.refill();
    }
  }

  get poolReady(): number {
    return this.pool.readyCount;
  }

  info(): VmHandlerInfo {
    return {
      accelerator: this.accel?.accel ?? 'none',
      acceleratorReason: this.accel?.reason ?? this.accelError ?? '',
      guestStamp: this.guestStamp,
      poolSize: this.deps.config.pool_size,
      poolReady: this.pool.readyCount,
      ...(this.accelError ? { unavailable: this.accelError } : {}),
    };
  }

  /** Builds (or reuses) the guest image; the daemon calls it at start so the first pod does not wait. */
  guestImage(): Promise<GuestImage> {
    this.guest ??= ensureGuestImage(this.deps.rootDir).then(
      (g) => {
        this.guestStamp = g.stamp;
        this.deps.log.info({ stamp: g.stamp, kernel: g.kernelRelease }, 'guest image ready');
        return g;
      },
      (e: unknown) => {
        this.guest = undefined;
        throw e;
      },
    );
    return this.guest;
  }

  async startSandbox(sb: SandboxRecord, log: Logger, withNamespaces?: () => Promise<void>): Promise<void> {
    if (this.accelError || !this.accel) throw failedPrecondition(`runtime handler "${this.handler}": ${this.accelError}`);
    const ns = sb.config.linux?.security_context?.namespace_options;
    const hostOnes = [ns?.network === 'NODE' && 'hostNetwork', ns?.pid === 'NODE' && 'hostPID', ns?.ipc === 'NODE' && 'hostIPC'].filter(Boolean);
    if (hostOnes.length) {
      throw invalidArgument(`runtime handler "${this.handler}" runs the pod in a micro-VM: ${hostOnes.join(', ')} cannot be honoured across the VM boundary (use a namespace handler such as runc)`);
    }
    await this.guestImage();
    await mkdir(sb.stateDir, { recursive: true, mode: 0o711 });
    // Pod-level PID namespace (CRI POD mode): created by the agent inside the guest on first use.
    const podPid = (ns?.pid ?? 'POD') === 'POD';
    // A pre-booted VM fits when the pod needs no extra memory (pool VMs have the handler default).
    const warm = this.podMemoryMib(sb) === this.deps.config.memory_mib ? this.pool.take(sb.stateDir) : undefined;
    if (warm) {
      sb.namespaces = { net: warm.netns, ...(podPid ? { pid: GUEST_POD_PIDNS } : {}) };
      writeVmDirPointer(sb.stateDir, warm.vmDir);
      for (const f of this.podCgroupProcs(sb.cgroupParent)) for (const pid of [warm.vm.pid, warm.vfs.pid]) writeFileSync(f, String(pid));
      this.adopt(sb.id, warm, log);
      log.info({ podId: sb.id, vmPid: warm.vm.pid }, 'pod takes a pre-booted VM from the warm pool');
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

  private podMemoryMib(sb: SandboxRecord): number {
    const memLimit = Number(sb.config.linux?.resources?.memory_limit_in_bytes ?? 0);
    return this.deps.config.memory_mib + (memLimit > 0 ? Math.ceil(memLimit / (1 << 20)) : 0);
  }

  /** Starts virtiofsd + QEMU in netns and waits for the agent; kills both on failure. */
  async bootVm(o: { name: string; vmDir: string; netns: string; memoryMib: number; cgroupProcs: string[]; log: Logger }): Promise<BootedVm> {
    const image = await this.guestImage();
    touchFile(join(image.dir, 'last-used')); // keeps build-guest.sh from pruning an image in use
    // virtiofsd serves the guest a read-only view of the staging tree the host binds into.
    const { shareDir } = createGuestShare(o.vmDir);
    const bootMac = `52:54:00:${randomBytes(3).toString('hex').match(/../g)!.join(':')}`;
    const vfs = await startVirtiofsd({ sharedDir: shareDir, socket: join(shortSocketDir(o.vmDir), 'vfs.sock'), logFile: join(o.vmDir, 'virtiofsd.log') });
    writeFileSync(join(o.vmDir, 'virtiofsd.pid'), String(vfs.pid));
    const t0 = performance.now();
    // QEMU gives up root once set up (pkg/vm/qemu-privileges.ts); a QEMU without the option stays root.
    const dropOption = qemuDropOption(this.deps.config.qemu_path);
    const runAs = dropOption ? pickVmRunAs(dropOption) : undefined;
    let vm: MicroVm | undefined;
    try {
      for (const f of o.cgroupProcs) writeFileSync(f, String(vfs.pid));
      vm = await MicroVm.launch({
        qemuPath: this.deps.config.qemu_path,
        stateDir: o.vmDir,
        netnsPath: o.netns,
        cgroupProcs: o.cgroupProcs,
        log: o.log,
        spec: {
          name: o.name,
          accel: this.accel!.accel,
          tcgTbSizeMib: this.deps.config.tcg_tb_size_mib,
          memoryMib: o.memoryMib,
          vcpus: this.deps.config.vcpus,
          kernel: this.deps.config.kernel_path ?? image.kernel,
          initrd: image.initrd,
          rootfs: image.rootfs,
          disks: [],
          nics: [{ tap: TAP_NAME, mac: bootMac }],
          tscKhz: this.accel!.accel === 'tcg' ? hostTscKhz() : undefined,
          sharedFs: { socket: vfs.socket, tag: SHARE_TAG },
          runAs,
        },
      });
      await vm.connectAgent(AGENT_TIMEOUT_MS);
    } catch (e) {
      if (vm) {
        o.log.warn({ console: vm.consoleTail(1500) }, 'VM failed to come up');
        vm.kill();
        await vm.exited;
      }
      vfs.kill();
      await vfs.exited;
      releaseGuestShare(o.vmDir);
      throw e instanceof AgentError ? agentError('pod VM agent', e) : e;
    }
    const readyMs = Math.round(performance.now() - t0);
    o.log.info({ vmPid: vm.pid, accel: this.accel!.accel, qemuUid: runAs?.uid ?? 0, spawnToAgentReadyMs: readyMs }, 'VM agent ready');
    return { vm, vfs, vmDir: o.vmDir, shareDir, netns: o.netns, bootMac, readyMs };
  }

  private adopt(podId: string, b: BootedVm, log: Logger): PodVm {
    b.vm.removeAllListeners('exit');
    const pod: PodVm = { vm: b.vm, vfs: b.vfs, vmDir: b.vmDir, shareDir: b.shareDir, netns: b.netns, bootMac: b.bootMac, dead: false };
    this.pods.set(podId, pod);
    b.vm.on('exit', (ex) => this.onVmDeath(podId, `${ex.shutdownReason ?? 'exit'} (code ${ex.code}, signal ${ex.signal})`, log));
    this.watchVirtiofsd(podId, pod, log);
    this.watchAgentChannel(podId, pod, log);
    return pod;
  }

  /**
   * The agent channel closes with an error when the guest broke the protocol (pkg/vmchannel
   * GuestProtocolError): nothing it says can be trusted any more, so the VM is stopped and its
   * containers turn exited (PodVMDied) naming the violation.
   */
  private watchAgentChannel(podId: string, pod: PodVm, log: Logger): void {
    pod.vm.agent.on('disconnect', (err) => {
      if (!err || pod.stopping || pod.dead || pod.vm.exit || this.pods.get(podId) !== pod) return;
      log.error({ podId, vmPid: pod.vm.pid, err: err.message }, 'agent channel of the pod VM closed on bad guest input: stopping the VM');
      pod.deathCause = err.message;
      pod.vm.kill();
    });
  }

  /**
   * virtiofsd serves every container's rootfs and volumes: a pod VM without it only has I/O errors
   * left, so its death ends the VM (as Kata does); the containers turn exited saying why.
   */
  private watchVirtiofsd(podId: string, pod: PodVm, log: Logger): void {
    void pod.vfs.exited.then(() => {
      if (pod.stopping || pod.dead || pod.vm.exit || this.pods.get(podId) !== pod) return;
      log.warn({ podId, vfsPid: pod.vfs.pid }, 'virtiofsd of the pod VM exited: stopping the VM');
      pod.deathCause = 'virtiofsd exited';
      pod.vm.kill();
    });
  }

  /** After CNI ADD: wire the tap to the veth, boot the VM (unless it came from the pool), configure the guest. */
  async podNetworkReady(sb: SandboxRecord, net: PodNetworkStatus | undefined, log: Logger): Promise<void> {
    const netns = sb.namespaces.net!;
    const veth = net?.interfaces.find((i) => i.sandbox) ?? net?.interfaces.find((i) => i.name === 'eth0');
    let mac = '';
    let mtu = 0;
    if (veth) {
      mac = veth.mac || (await linkMac(netns, veth.name));
      // The guest NIC and the tap take the CNI interface's MTU (an overlay's 1450 or below): with the
      // default 1500 the guest would send frames the pod network drops.
      mtu = (await linkMtu(netns, veth.name)) ?? 0;
      if (mtu) await setLinkMtu(netns, TAP_NAME, mtu);
      await redirectTapToVeth(netns, veth.name);
    }
    let pod = this.pods.get(sb.id);
    if (!pod) {
      const vmDir = join(sb.stateDir, 'vm');
      mkdirSync(vmDir, { recursive: true, mode: 0o700 });
      const booted = await this.bootVm({ name: `bulkhead-${sb.id.slice(0, 12)}`, vmDir, netns, memoryMib: this.podMemoryMib(sb), cgroupProcs: this.podCgroupProcs(sb.cgroupParent), log });
      pod = this.adopt(sb.id, booted, log);
    }
    try {
      const dns = sb.config.dns_config;
      await pod.vm.agent.call(
        {
          setup_sandbox: {
            sandbox_id: sb.id,
            hostname: sb.config.hostname || sb.config.metadata?.name?.slice(0, 63) || '',
            dns: { servers: dns?.servers ?? [], searches: dns?.searches ?? [], options: dns?.options ?? [] },
            interfaces: veth ? [{ name: 'eth0', mac, guest_mac: pod.bootMac, addresses: (net?.ipConfigs ?? []).map((c) => ({ cidr: c.address })), mtu }] : [],
            routes: guestRoutes(net),
            shared_fs_tag: SHARE_TAG,
            sysctls: sb.config.linux?.sysctls ?? {},
          },
        },
        { timeoutMs: 30_000 },
      );
      log.info({ podId: sb.id, vmPid: pod.vm.pid, accel: this.accel!.accel, mac }, 'pod VM ready');
    } catch (e) {
      log.warn({ podId: sb.id, console: pod.vm.consoleTail(1500) }, 'pod VM setup failed');
      await this.stopPodVm(sb.id);
      throw e instanceof AgentError ? agentError('pod VM agent', e) : e;
    }
  }

  /**
   * cgroup.procs files of <pod cgroup>/vm in every hierarchy. No pod limits are applied to it: the VM's
   * own memory (guest RAM + QEMU) exceeds the containers' limits, which the guest enforces itself.
   */
  private podCgroupProcs(cgroupParent: string): string[] {
    // A systemd slice name ("kubepods-pod1.slice") stands for its cgroupfs directory.
    const path = `${cgroupFsPath(cgroupParent)}/vm`;
    ensureCgroup(path);
    return cgroupDirs(path).map((d) => join(d, 'cgroup.procs'));
  }

  sandboxAlive(sb: SandboxRecord): boolean | undefined {
    const p = this.pods.get(sb.id);
    // Not reattached yet (daemon restarted): QEMU may have died meanwhile, or been shut down by a
    // StopPodSandbox the kill cut off before its record was saved. The pidfile tells.
    return p ? !p.dead : vmProcessAlive(readVmDirPointer(sb.stateDir));
  }

  private onVmDeath(podId: string, vmExit: string, log: Logger): void {
    const pod = this.pods.get(podId);
    // QEMU exits on its own when virtiofsd goes: an adopted virtiofsd (after a daemon restart) is
    // polled, so its watcher may not have named the cause yet.
    if (pod && !pod.deathCause && !pod.stopping && !pod.vfs.alive()) pod.deathCause = 'virtiofsd exited';
    const why = pod?.deathCause ? `${pod.deathCause}, VM stopped: ${vmExit}` : vmExit;
    if (pod) pod.dead = true;
    pod?.vfs.kill();
    for (const [id, c] of this.ctrs) {
      if (c.podId !== podId || c.state.status === 'exited') continue;
      c.state = { status: 'exited', pid: 0, exitCode: 255, finishedAt: nowNs(), reason: 'PodVMDied', message: `the pod's micro-VM exited: ${why}` };
      log.warn({ podId, containerId: id, why }, 'pod VM died: container marked exited');
      for (const l of this.exitListeners) l(id);
    }
  }

  private async pod(podId: string): Promise<PodVm> {
    const p = this.pods.get(podId) ?? (await this.reattach(podId));
    if (!p || p.dead) throw failedPrecondition(`pod ${podId}: its VM is not running`);
    return p;
  }

  private readonly reattaching = new Map<string, Promise<PodVm | undefined>>();
  /** When the pod's last reattach began (bounds how long container statuses wait for it). */
  private readonly reattachStarted = new Map<string, number>();

  /**
   * After a daemon restart: finds the pod's QEMU (pidfile + QMP socket), reconnects the agent channel
   * (the agent waits for a host on EOF) and rebuilds the container states from the guest's list.
   */
  private reattach(podId: string): Promise<PodVm | undefined> {
    const have = this.pods.get(podId);
    if (have) return Promise.resolve(have);
    let p = this.reattaching.get(podId);
    if (!p) {
      this.reattachStarted.set(podId, Date.now());
      p = this.doReattach(podId).finally(() => this.reattaching.delete(podId));
      this.reattaching.set(podId, p);
    }
    return p;
  }

  /**
   * reattach(), waited for at most ms from when this pod's reattach began (so a VM that does not answer
   * costs start-up recovery ms once, not per container); it goes on in the background after that.
   */
  private async reattachWithin(podId: string, ms: number): Promise<void> {
    const attempt = this.reattach(podId);
    const started = this.reattachStarted.get(podId) ?? Date.now();
    const left = started + ms - Date.now();
    if (left <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([attempt, new Promise<void>((r) => (timer = setTimeout(r, left)))]);
    clearTimeout(timer);
  }

  private async doReattach(podId: string): Promise<PodVm | undefined> {
    const podDir = join(this.deps.stateDir, 'pods', podId);
    const vmDir = readVmDirPointer(podDir);
    if (!existsSync(join(vmDir, 'qemu.pid'))) return undefined;
    const log = this.deps.log.child({ podId });
    let vm: MicroVm;
    try {
      vm = await MicroVm.attach(vmDir, log);
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'pod VM not reachable after restart');
      return undefined;
    }
    let vfsPid = 0;
    try {
      vfsPid = Number(readFileSync(join(vmDir, 'virtiofsd.pid'), 'utf8'));
    } catch {
      /* none */
    }
    const pod: PodVm = {
      vm,
      vfs: adoptVirtiofsd(vfsPid, join(shortSocketDir(vmDir), 'vfs.sock')),
      vmDir,
      shareDir: join(vmDir, 'share'),
      netns: '',
      bootMac: '',
      dead: false,
    };
    this.pods.set(podId, pod);
    vm.on('exit', (ex) => this.onVmDeath(podId, `${ex.shutdownReason ?? 'exit'} (code ${ex.code}, signal ${ex.signal})`, log));
    this.watchVirtiofsd(podId, pod, log);
    this.watchAgentChannel(podId, pod, log);
    try {
      await vm.connectAgent(10_000);
      const list = await vm.agent.call({ list_containers: {} }, { timeoutMs: 10_000 });
      for (const gc of list.list_containers?.containers ?? []) {
        const state: ContainerRuntimeState =
          gc.state === 'exited'
            ? { status: 'exited', pid: 0, exitCode: gc.exit?.exit_code ?? -1, finishedAt: gc.exit?.finished_at_ns, oomKilled: gc.exit?.reason === 'OOMKilled' }
            : { status: gc.state === 'running' ? 'running' : 'created', pid: gc.pid };
        this.ctrs.set(gc.container_id, { podId, state, logOffset: 0 });
        if (state.status === 'running') void this.watchExit(gc.container_id, pod, log);
      }
      log.info({ vmPid: vm.pid, containers: this.ctrs.size }, 'reattached to pod VM');
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'pod VM agent did not answer after restart');
    }
    return pod;
  }

  async stopSandbox(sb: SandboxRecord, _log: Logger): Promise<void> {
    await this.stopPodVm(sb.id);
  }

  private async stopPodVm(podId: string): Promise<void> {
    const p = this.pods.get(podId) ?? (await this.reattach(podId));
    if (!p) return;
    p.stopping = true;
    if (!p.vm.exit) await p.vm.shutdown(5000);
    p.vfs.kill();
    await p.vfs.exited;
    p.dead = true;
  }

  async removeSandbox(sb: SandboxRecord, log: Logger): Promise<void> {
    await this.stopPodVm(sb.id);
    const vmDir = readVmDirPointer(sb.stateDir);
    releaseShortSocketDir(vmDir);
    this.pods.delete(sb.id);
    this.reattachStarted.delete(sb.id);
    releaseGuestShare(vmDir);
    // By fixed path too: a crash during the boot may have pinned them before the record said so
    // (the SIGKILL churn found such a rollback failing with EBUSY on the still-mounted netns).
    const pinned: { net?: string; ipc?: string; uts?: string } = sb.namespaces.net ? { net: sb.namespaces.net } : {};
    for (const kind of ['net', 'ipc', 'uts'] as const) if (existsSync(join(sb.stateDir, 'ns', kind))) pinned[kind] = join(sb.stateDir, 'ns', kind);
    if (Object.keys(pinned).length) await removePodNamespaces(pinned);
    const podCgroup = cgroupFsPath(sb.cgroupParent);
    await removeCgroup(sb.cgroupOwned ? podCgroup : `${podCgroup}/vm`).catch((e: unknown) => log.warn({ podId: sb.id, err: (e as Error).message }, 'pod cgroup removal failed'));
    // A VM taken from the pool lives (with its netns, removed above) in a pool slot dir.
    if (!vmDir.startsWith(sb.stateDir + '/')) await rm(dirname(vmDir), { recursive: true, force: true });
    await rm(sb.stateDir, { recursive: true, force: true });
    log.debug({ podId: sb.id }, 'pod VM resources removed');
  }

  async createContainer(sb: SandboxRecord, c: ContainerRecord, log: Logger): Promise<void> {
    const pod = await this.pod(sb.id);
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
      await pod.vm.agent.call({ create_container: { container_id: c.id, spec_json: JSON.stringify(guestSpec), rootfs: { shared_path: `${c.id}/rootfs` }, stdin: c.stdin, tty: c.tty } }, { timeoutMs: 60_000 });
    } catch (e) {
      removeFromShare(share, c.id);
      throw e instanceof AgentError ? agentError('guest agent', e) : e;
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
    const pod = await this.pod(c.podId);
    const vc = this.ctrs.get(c.id);
    if (!vc) throw failedPrecondition(`container ${c.id} is not known to the pod VM`);
    // The log file exists once the container started (kubelet and critest open it right away), even
    // before the guest shipped any output.
    if (c.logPath) {
      mkdirSync(dirname(c.logPath), { recursive: true });
      appendFileSync(c.logPath, '');
    }
    await this.followLog(pod, c, vc, log);
    const r = await pod.vm.agent.call({ start_container: { container_id: c.id } }, { timeoutMs: 60_000 }).catch((e: unknown) => {
      throw e instanceof AgentError ? agentError('guest agent', e) : e;
    });
    vc.state = { status: 'running', pid: r.start_container?.pid ?? 0 };
    c.pid = vc.state.pid;
    void this.watchExit(c.id, pod, log);
  }

  /**
   * Ships the guest-side CRI log into the kubelet path on the host, from vc.logOffset on. Appends run
   * off the event loop through a bounded queue that pauses the stream when full (log-shipper.ts).
   */
  private async followLog(pod: PodVm, c: ContainerRecord, vc: VmContainer, log: Logger): Promise<void> {
    vc.following = true;
    const shipper = new LogShipper({
      append: (b) => appendFile(c.logPath, b),
      onWritten: (n) => (vc.logOffset += n),
      onError: (e, n) => log.warn({ containerId: c.id, err: e.message, droppedBytes: n }, 'cannot write container log'),
    });
    const follow = pod.vm.agent.openStream(
      { follow_logs: { container_id: c.id, offset: String(vc.logOffset) } },
      {
        onData: (_fd, b) => shipper.push(b),
        onClose: () => {
          vc.following = false;
          vc.logDone = true;
        },
      },
    );
    shipper.setFlow(follow);
    await follow.response.catch((e: unknown) => {
      vc.following = false;
      log.warn({ containerId: c.id, err: (e as Error).message }, 'log follow failed');
    });
  }

  private async watchExit(id: string, pod: PodVm, log: Logger): Promise<void> {
    try {
      const r = await pod.vm.agent.call({ wait_container: { container_id: id } });
      const st = r.wait_container!;
      const vc = this.ctrs.get(id);
      if (!vc || vc.state.status === 'exited') return;
      vc.state = { status: 'exited', pid: 0, exitCode: st.exit_code, finishedAt: st.finished_at_ns, oomKilled: st.reason === 'OOMKilled' };
      log.info({ containerId: id, exitCode: st.exit_code, reason: st.reason }, 'container in pod VM exited');
      for (const l of this.exitListeners) l(id);
    } catch {
      /* VM death is handled by onVmDeath */
    }
  }

  async stopContainer(c: ContainerRecord, stop: StopRequest, log: Logger): Promise<void> {
    if (!this.ctrs.has(c.id)) await this.reattach(c.podId);
    const vc = this.ctrs.get(c.id);
    if (!vc || vc.state.status !== 'running') return;
    const pod = this.pods.get(c.podId);
    if (!pod || pod.dead) return;
    // An agent that cannot wait (container gone, VM died under the call) counts as exited.
    const exit = pod.vm.agent.call({ wait_container: { container_id: c.id } }).then(() => true, () => true);
    const exitedWithin = async (ms: number): Promise<boolean> => {
      const timer = new AbortController();
      try {
        return await Promise.race([exit, sleep(ms, timer.signal, { unref: true }).then(() => false)]);
      } finally {
        timer.abort();
      }
    };
    if (stop.timeoutMs > 0 && stop.signal !== SIGKILL) {
      await pod.vm.agent.call({ signal_container: { container_id: c.id, signal: stop.signal } }).catch(() => undefined);
      if (await exitedWithin(stop.timeoutMs)) return this.settle(c.id);
    }
    log.debug({ containerId: c.id }, 'stop timeout: SIGKILL');
    const killError = await pod.vm.agent.call({ signal_container: { container_id: c.id, signal: SIGKILL, all: true } }).then(() => undefined, (e: unknown) => e as Error);
    if (!(await exitedWithin(KILL_EXIT_WAIT_MS)) && this.ctrs.get(c.id)?.state.status === 'running') {
      throw internal(`container ${c.id} did not exit after SIGKILL${killError ? ` (${killError.message})` : ''}`);
    }
    await this.settle(c.id);
  }

  /** Lets the exit watcher record the status it got. */
  private async settle(id: string): Promise<void> {
    for (let i = 0; i < 50 && this.ctrs.get(id)?.state.status === 'running'; i++) await new Promise((r) => setTimeout(r, 10));
  }

  async removeContainer(c: ContainerRecord, log: Logger): Promise<void> {
    const pod = this.pods.get(c.podId) ?? (await this.reattach(c.podId));
    if (pod && !pod.dead) {
      await pod.vm.agent.call({ delete_container: { container_id: c.id } }, { timeoutMs: 30_000 }).catch((e: unknown) => {
        if (!(e instanceof AgentError && e.code === 5)) log.warn({ containerId: c.id, err: (e as Error).message }, 'guest delete failed');
      });
    }
    if (pod) removeFromShare(guestShareOf(pod.vmDir), c.id);
    this.ctrs.delete(c.id);
  }

  async containerState(c: ContainerRecord): Promise<ContainerRuntimeState> {
    if (!this.ctrs.has(c.id) && c.state !== 'CONTAINER_EXITED') await this.reattachWithin(c.podId, REATTACH_WAIT_MS);
    const vc = this.ctrs.get(c.id);
    const pod = this.pods.get(c.podId);
    if (vc && pod && !pod.dead && !vc.following && !vc.logDone && c.logPath && vc.state.status !== 'created') {
      // After a restart: resume shipping where the host log ends (assumes no rotation in between).
      // Not awaited: a guest that never answers FollowLogs must not hold the status (or start-up).
      if (vc.logOffset === 0) vc.logOffset = fileSize(c.logPath);
      void this.followLog(pod, c, vc, this.deps.log.child({ podId: c.podId, containerId: c.id }));
    }
    const known = this.ctrs.get(c.id)?.state;
    if (known) return known;
    if (c.state !== 'CONTAINER_EXITED' && !vmProcessAlive(readVmDirPointer(join(this.deps.stateDir, 'pods', c.podId)))) {
      // The VM died while the daemon was down: nothing inside can still run.
      const state: ContainerRuntimeState = { status: 'exited', pid: 0, exitCode: 255, finishedAt: nowNs(), reason: 'PodVMDied', message: "the pod's micro-VM is not running" };
      this.ctrs.set(c.id, { podId: c.podId, state, logOffset: 0 });
      return state;
    }
    return { status: c.state === 'CONTAINER_EXITED' ? 'exited' : 'unknown', pid: 0 };
  }

  async execSync(c: ContainerRecord, req: ExecSyncRequest, log: Logger): Promise<ExecSyncExit> {
    const pod = await this.pod(c.podId);
    // The agent's own timer backs up the host's deadline (a host that stopped answering); it is a
    // Node setTimeout too, so past 2^31-1 ms only the host's deadline applies (0: none in the guest).
    const guestTimeoutSec = Math.ceil(req.timeoutMs / 1000);
    return new Promise<ExecSyncExit>((resolve, reject) => {
      let execId = '';
      const kill = (): void => {
        if (execId) void pod.vm.agent.call({ signal_exec: { exec_id: execId, signal: SIGKILL } }).catch(() => undefined);
      };
      const onDeadline = (): void => {
        log.info({ containerId: c.id, timeoutMs: req.timeoutMs }, 'exec sync deadline: killing the command');
        kill();
      };
      const s = pod.vm.agent.openStream(
        { exec_process: { container_id: c.id, args: req.cmd, env: [], cwd: '', tty: false, stdin: false, timeout_seconds: guestTimeoutSec * 1000 <= MAX_TIMER_MS ? guestTimeoutSec : 0 } },
        {
          onData: (fd, b) => (fd === 2 ? req.stderr : req.stdout).push(b),
          onClose: (st) => {
            req.deadline.removeEventListener('abort', onDeadline);
            resolve({ exitCode: st?.exit_code ?? -1, timedOut: st?.reason === 'Timeout' });
          },
        },
      );
      s.response.then(
        (r) => {
          execId = r.exec_process?.exec_id ?? '';
          if (req.deadline.aborted) kill();
        },
        (e: unknown) => {
          req.deadline.removeEventListener('abort', onDeadline);
          reject(e instanceof AgentError ? failedPrecondition(`exec in pod VM: ${e.message}`) : e);
        },
      );
      req.deadline.addEventListener('abort', onDeadline, { once: true });
    });
  }

  /** cgroup v2 stats of the container inside the guest, via the agent. */
  async containerCgroupStats(c: ContainerRecord): Promise<CgroupStats | undefined> {
    const vc = this.ctrs.get(c.id);
    const pod = this.pods.get(c.podId);
    if (!vc || vc.state.status !== 'running' || !pod || pod.dead) return undefined;
    const r = await pod.vm.agent.call({ stats: { container_ids: [c.id] } }, { timeoutMs: 5000 });
    const st = r.stats?.stats[0];
    if (!st) return undefined;
    return {
      timestampNs: BigInt(st.timestamp_ns),
      cpu: { usageNs: BigInt(st.cpu_usage_ns) },
      memory: {
        usageBytes: Number(st.memory_usage_bytes),
        workingSetBytes: Number(st.memory_working_set_bytes),
        rssBytes: Number(st.memory_rss_bytes),
        cacheBytes: 0,
        pageFaults: 0,
        majorPageFaults: 0,
        oomKills: Number(st.oom_kills),
        limitHits: 0,
      },
      pids: { current: Number(st.pids) },
    };
  }

  async updateResources(c: ContainerRecord, r: OciResources): Promise<void> {
    const pod = await this.pod(c.podId);
    await pod.vm.agent.call({
      update_resources: {
        container_id: c.id,
        resources: {
          cpu_period: String(r.cpu?.period ?? 0),
          cpu_quota: String(r.cpu?.quota ?? 0),
          cpu_shares: String(r.cpu?.shares ?? 0),
          memory_limit_bytes: String(r.memory?.limit ?? 0),
          cpuset_cpus: r.cpu?.cpus ?? '',
        },
      },
    });
  }

  async reopenLog(c: ContainerRecord): Promise<void> {
    // Each chunk is appended by path, so the next write goes to the new file; it exists from now on
    // (as after conmon's reopen).
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
    return (await this.pod(podId)).vm.agent;
  }

  onExit(listener: (containerId: string) => void): void {
    this.exitListeners.push(listener);
  }

  async close(): Promise<void> {
    await this.pool.close();
    // VMs outlive the daemon on purpose (a restarted daemon is meant to reattach); only the channels close.
    for (const p of this.pods.values()) {
      p.vm.removeAllListeners('exit');
      p.vm.agent.close();
      p.vm.qmp.close();
    }
  }
}

/** An agent failure as a CRI error: the agent's own status code when it names bad input or state. */
function agentError(what: string, e: AgentError): CriError {
  const msg = `${what}: ${e.message}`;
  if (e.code === 3) return invalidArgument(msg);
  if (e.code === 5) return notFound(msg);
  if (e.code === 9) return failedPrecondition(msg);
  return internal(msg);
}

function touchFile(path: string): void {
  try {
    const now = new Date();
    utimesSync(path, now, now);
  } catch {
    try {
      writeFileSync(path, '');
    } catch {
      /* read-only image dir: nothing to protect it with */
    }
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

/** CNI routes without a gateway use the gateway of the pod IP of the same family (CNI spec). */
export function guestRoutes(net: PodNetworkStatus | undefined): { dst: string; gateway: string }[] {
  if (!net) return [];
  const gw = (v6: boolean): string => net.ipConfigs.find((c) => c.address.includes(':') === v6 && c.gateway)?.gateway ?? '';
  return net.routes.map((r) => ({ dst: r.dst, gateway: r.gw ?? gw(r.dst.includes(':')) }));
}

function nowNs(): string {
  return (BigInt(Date.now()) * 1_000_000n).toString();
}
