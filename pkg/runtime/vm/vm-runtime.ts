// Handlers of kind "vm" as one PodRuntime: each pod is a QEMU micro-VM (the pod controller,
// vm-pod-controller.ts) whose containers run inside the guest under crun, driven over the agent
// channel (the task runtime, vm-task-runtime.ts). Both halves share the pods' VMs (pod-vms.ts) and
// the guest containers' states (guest-containers.ts). The jobs behind them live beside them:
//   vm-booter.ts         accelerator, guest image, booting one VM (the hypervisor side)
//   snapshot-start.ts    boot or restore from a template; warm-pool.ts pre-started VMs
//   pod-vms.ts           a pod's VM: adopt, death watching, reattach after a restart, stop
//   guest-containers.ts  container states in the guest: exit watching, PodVMDied, restore, log shipping
//   pod-network.ts       tap <-> CNI veth wiring and the SetupSandbox request
//   guest-exec.ts        ExecSync, vm-streams.ts exec/attach/port-forward through the agent
//   guest-share.ts, guest-spec-rewrite.ts, guest-resources.ts, agent-errors.ts, vm-size.ts
import type { Logger } from 'pino';
import type { UserNamespaceSupport } from '../pod-controller.js';
import type { HandlerStatus, PodRuntime, PodRuntimeTraits } from '../pod-runtime.js';
import { GuestContainers } from './guest-containers.js';
import { PodVms } from './pod-vms.js';
import { hostCpuCount } from './vm-size.js';
import type { VmHandlerInfo, VmRuntimeDeps } from './vm-handler-deps.js';
import { VmPodController } from './vm-pod-controller.js';
import { VmTaskRuntime } from './vm-task-runtime.js';
import type { GuestImage } from '../../vm/guest-image.js';

export type { VmHandlerInfo, VmRuntimeDeps } from './vm-handler-deps.js';
export { podVmDir } from './vm-state.js';

export class VmPodRuntime implements PodRuntime {
  readonly kind = 'vm' as const;
  readonly handler: string;
  readonly controller: VmPodController;
  readonly tasks: VmTaskRuntime;
  /**
   * The pod cgroup holds QEMU (guest RAM on top of the containers' limits: vm-size.ts); host device
   * nodes, host mounts and host hooks (CDI) mean nothing inside the pod's own kernel; host AppArmor
   * profiles cannot confine processes under the guest's kernel (pkg/oci/apparmor.ts vmAppArmor).
   */
  readonly traits: PodRuntimeTraits = { podCgroupLimits: false, cdiRefusal: 'CDI devices cannot be passed into a micro-VM pod', appArmor: 'guest' };
  private readonly pods: PodVms;

  constructor(deps: VmRuntimeDeps) {
    this.handler = deps.handler;
    const ctrs = new GuestContainers();
    this.pods = new PodVms(deps.stateDir, deps.log, {
      died: (podId, why, log) => ctrs.podDied(podId, why, log),
      reattached: (podId, pod, log) => ctrs.restore(podId, pod, log),
    });
    const base = { vcpus: deps.config.vcpus, memoryMib: deps.config.memory_mib, hostCpus: hostCpuCount() };
    const pool = { vcpus: deps.config.pool_vcpus ?? deps.config.vcpus, memoryMib: deps.config.pool_memory_mib ?? deps.config.memory_mib };
    this.controller = new VmPodController(deps, this.pods, { base, pool });
    this.tasks = new VmTaskRuntime(deps, this.pods, ctrs, base);
  }

  get accelerator(): 'kvm' | 'tcg' | undefined {
    return this.controller.accelerator;
  }

  /**
   * Refused, not accepted-and-ignored: the guest's crun would run the containers as ids that are
   * not the requested host ranges (the pod would see no mapping in /proc/self/uid_map), and
   * virtiofsd serves volumes with the host's ids, not idmapped. The VM is this handler's
   * boundary already; hostUsers: true is the way to run it.
   */
  userNamespaces(): UserNamespaceSupport {
    return { unsupported: `runtime handler "${this.handler}" (micro-VM): the VM is the isolation boundary and pods run with the guest's ids; use hostUsers: true` };
  }

  info(): VmHandlerInfo {
    return this.controller.info();
  }

  /**
   * Every host submount of a read-only volume becomes a read-only share of its own in the guest
   * (guest-spec-rewrite.ts), so recursive read-only mounts hold.
   */
  status(): HandlerStatus {
    const info = this.info();
    return { ...(info.unavailable ? { unavailable: info.unavailable } : {}), recursiveReadOnlyMounts: true, details: { ...info } };
  }

  /** Builds (or reuses) the guest image; the daemon calls it at start so the first pod does not wait. */
  guestImage(): Promise<GuestImage> {
    return this.controller.guestImage();
  }

  /** Cleans what an earlier daemon left in the pool, then starts filling it. */
  startPool(): Promise<void> {
    return this.controller.startPool();
  }

  start(log: Logger): void {
    if (!this.info().unavailable) this.guestImage().catch((e: unknown) => log.error({ handler: this.handler, err: (e as Error).message }, 'guest image build failed'));
    this.startPool().catch((e: unknown) => log.error({ handler: this.handler, err: (e as Error).message }, 'warm pool start failed'));
  }

  async close(): Promise<void> {
    await this.controller.close();
    this.pods.closeChannels();
  }
}
