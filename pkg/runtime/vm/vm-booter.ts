// The hypervisor side of a VM handler: the accelerator it chose, the guest image it boots, and booting
// one VM (virtiofsd serving the share, QEMU in the pod netns dropping to its own uid) up to the agent's
// Hello. A pod VM and a warm-pool VM boot the same way.
import { kernelParamWords } from '../../vm/qemu-args.js';
import { closeSync, constants, openSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { VmHandlerConfig } from '../../config/schema.js';
import { chooseAccelerator, type AccelChoice } from '../../vm/accelerator.js';
import { pickVmRunAs, qemuDropOption } from '../../vm/qemu-privileges.js';
import { hostTscKhz } from '../../vm/tsc.js';
import { cancelGuestImageBuild, ensureGuestImage, readGuestImage, type GuestImage } from '../../vm/guest-image.js';
import { MicroVm } from '../../vm/micro-vm.js';
import { defaultVirtiofsdPath, startVirtiofsd, type Virtiofsd } from '../../vm/virtiofsd.js';
import { loadVmState, STATE_FDSET, type VmStateFile } from '../../vm/vm-state-file.js';
import { shortSocketDir } from '../../vm/socket-dir.js';
import { TAP_NAME } from './tap-network.js';
import { createGuestShare, releaseGuestShare } from './guest-share.js';
import { fromAgent } from './agent-errors.js';

/** virtio-fs tag of the pod share (SetupSandbox shared_fs_tag names it to the agent). */
export const SHARE_TAG = 'bulkhead';
/** Spawn to the agent's Hello: a TCG boot (no KVM) on a loaded host is the slow case this bounds. */
const AGENT_TIMEOUT_MS = 120_000;

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

export interface BootRequest {
  name: string;
  vmDir: string;
  netns: string;
  memoryMib: number;
  /** vCPUs (pod-sized, vm-size.ts); default: the handler's vcpus. */
  vcpus?: number;
  /** cgroup.procs files QEMU and virtiofsd are moved into. */
  cgroupProcs: string[];
  log: Logger;
  /** Snapshot start (vm-template.ts, snapshot-start.ts): boot a VM to be saved, or restore one. */
  state?: VmStateFile;
}

export class VmBooter {
  readonly accel: AccelChoice | undefined;
  /** Why the handler cannot boot VMs (no usable accelerator, bad kernel_params); undefined: it can. */
  readonly unavailable: string | undefined;
  /** The handler's kernel_params words, added to every VM's kernel cmdline. */
  private readonly kernelParams: string[] = [];
  private guest: Promise<GuestImage> | undefined;
  private stamp = '';

  constructor(
    private readonly config: VmHandlerConfig,
    /** Daemon root: the guest image cache is under <root>/guest. */
    private readonly rootDir: string,
    private readonly log: Logger,
  ) {
    try {
      this.accel = chooseAccelerator(config.accelerator, config.kernel_path);
      if (this.accel.accel === 'tcg') log.warn({ reason: this.accel.reason }, 'micro-VM pods use TCG (software emulation): slow boots and CPU');
      else log.info({ reason: this.accel.reason }, 'micro-VM pods use KVM');
    } catch (e) {
      this.unavailable = (e as Error).message;
      log.error({ err: this.unavailable }, 'micro-VM handler unavailable');
    }
    try {
      this.kernelParams = kernelParamWords(config.kernel_params);
    } catch (e) {
      this.unavailable ??= (e as Error).message;
      log.error({ err: (e as Error).message }, 'micro-VM handler unavailable');
    }
  }

  get virtiofsdPath(): string {
    return this.config.virtiofsd_path ?? defaultVirtiofsdPath();
  }

  /** The stamp of the guest image once built ('' before). */
  get guestStamp(): string {
    return this.stamp;
  }

  /** Builds (or reuses) the guest image; the daemon calls it at start so the first pod does not wait. */
  guestImage(): Promise<GuestImage> {
    const prebuilt = this.config.guest_image;
    this.guest ??= (prebuilt ? Promise.resolve().then(() => readGuestImage(prebuilt)) : ensureGuestImage(this.rootDir)).then(
      (g) => {
        this.stamp = g.stamp;
        this.log.info({ stamp: g.stamp, kernel: g.kernelRelease }, 'guest image ready');
        return g;
      },
      (e: unknown) => {
        this.guest = undefined;
        throw e;
      },
    );
    return this.guest;
  }

  /** Stops a guest image build still running, so nothing writes under the root after shutdown. */
  close(): Promise<void> {
    return cancelGuestImageBuild(this.rootDir);
  }

  /** Starts virtiofsd + QEMU in netns and waits for the agent; kills both on failure. */
  async boot(o: BootRequest): Promise<BootedVm> {
    const accel = this.accel;
    if (!accel) throw new Error(`micro-VM handler unavailable: ${this.unavailable}`);
    const image = await this.guestImage();
    touchFile(join(image.dir, 'last-used')); // keeps build-guest.sh from pruning an image in use
    // virtiofsd serves the guest a read-only view of the staging tree the host binds into.
    const { shareDir } = createGuestShare(o.vmDir);
    // A restored guest keeps the NIC MAC it was saved with (virtio-net state): name the same one.
    const bootMac = o.state?.mac ?? `52:54:00:${randomBytes(3).toString('hex').match(/../g)!.join(':')}`;
    const vfs = await startVirtiofsd({ sharedDir: shareDir, socket: join(shortSocketDir(o.vmDir), 'vfs.sock'), logFile: join(o.vmDir, 'virtiofsd.log'), path: this.virtiofsdPath });
    writeFileSync(join(o.vmDir, 'virtiofsd.pid'), String(vfs.pid));
    const t0 = performance.now();
    // QEMU gives up root once set up (pkg/vm/qemu-privileges.ts); a QEMU without the option stays root.
    const dropOption = qemuDropOption(this.config.qemu_path);
    const runAs = dropOption ? pickVmRunAs(dropOption) : undefined;
    let vm: MicroVm | undefined;
    let stateFd: number | undefined;
    try {
      // QEMU gets the state file as inherited fd 3 (it runs as a uid that could not open it).
      if (o.state) stateFd = openSync(o.state.path, o.state.mode === 'save' ? constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC : constants.O_RDONLY, 0o600);
      for (const f of o.cgroupProcs) writeFileSync(f, String(vfs.pid));
      vm = await MicroVm.launch({
        qemuPath: this.config.qemu_path,
        stateDir: o.vmDir,
        netnsPath: o.netns,
        cgroupProcs: o.cgroupProcs,
        log: o.log,
        spec: {
          name: o.name,
          accel: accel.accel,
          tcgTbSizeMib: this.config.tcg_tb_size_mib,
          memoryMib: o.memoryMib,
          vcpus: o.vcpus ?? this.config.vcpus,
          kernel: this.config.kernel_path ?? image.kernel,
          initrd: image.initrd,
          rootfs: image.rootfs,
          disks: [],
          nics: [{ tap: TAP_NAME, mac: bootMac }],
          tscKhz: accel.accel === 'tcg' ? hostTscKhz() : undefined,
          sharedFs: { socket: vfs.socket, tag: SHARE_TAG },
          extraCmdline: this.kernelParams,
          runAs,
          ...(stateFd !== undefined ? { addFds: [{ fd: 3, set: STATE_FDSET }], incoming: o.state?.mode === 'restore' } : {}),
        },
        ...(stateFd !== undefined ? { passFds: [stateFd] } : {}),
      });
      if (stateFd !== undefined) closeSync(stateFd);
      if (o.state?.mode === 'restore') await loadVmState(vm.qmp, o.state);
      await vm.connectAgent(AGENT_TIMEOUT_MS);
    } catch (e) {
      if (stateFd !== undefined && !vm) closeSync(stateFd);
      if (vm) {
        o.log.warn({ console: vm.consoleTail(1500) }, 'VM failed to come up');
        vm.kill();
        await vm.exited;
      }
      vfs.kill();
      await vfs.exited;
      releaseGuestShare(o.vmDir);
      throw fromAgent('pod VM agent', e);
    }
    const readyMs = Math.round(performance.now() - t0);
    o.log.info({ vmPid: vm.pid, accel: accel.accel, qemuUid: runAs?.uid ?? 0, spawnToAgentReadyMs: readyMs, startedFrom: o.state?.mode === 'restore' ? 'snapshot' : 'boot' }, 'VM agent ready');
    return { vm, vfs, vmDir: o.vmDir, shareDir, netns: o.netns, bootMac, readyMs };
  }
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
