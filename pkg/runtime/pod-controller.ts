// The pod-level half of a pod kind (containerd's sandbox Controller, core/sandbox/controller.go):
// start, stop, report and remove one handler's pod sandboxes. Records are owned by the sandbox
// manager (pkg/sandbox); a controller fills in what it created (namespaces, infra process) and does
// the work. Its per-container twin is task-runtime.ts; pod-runtime.ts pairs them per handler.
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { SandboxRecord } from '../store/records.js';
import type { CgroupStats } from '../cgroups/stats.js';
import type { PodNetworkStatus } from '../network/cni.js';
import type * as cri from '../api/cri-types.js';

export type UserNamespaceSupport = { unsupported: string } | { idmapHelper: string };

export interface PodController {
  /**
   * Creates namespaces, pod cgroup and (if needed) the infra process; fills sb.namespaces/infra.
   * `withNamespaces` (pod networking) runs as soon as the namespaces exist, concurrently with the
   * rest of the start; its failure fails the start.
   */
  startSandbox(sb: SandboxRecord, log: Logger, withNamespaces?: () => Promise<void>): Promise<void>;
  /**
   * Called after startSandbox (and so after the pod network is set up) with the CNI result
   * (undefined without CNI or with host networking). The VM controller boots or configures the pod
   * VM here, since the guest needs the veth's MAC, IPs and routes.
   */
  podNetworkReady?(sb: SandboxRecord, net: PodNetworkStatus | undefined, log: Logger): Promise<void>;
  /**
   * False when the sandbox's own process died under it (the pod VM's QEMU, the infra process):
   * the pod is then reported SANDBOX_NOTREADY, as containerd does when the sandbox task exits.
   * Unset or undefined: unknown (assumed alive).
   */
  sandboxAlive?(sb: SandboxRecord): boolean | undefined;
  /**
   * The pod's own usage when its host cgroup does not tell it all (VM pods: QEMU + virtiofsd read
   * from /proc, guest included); absent or undefined → the stats service reads the pod cgroup.
   */
  sandboxStats?(sb: SandboxRecord): Promise<CgroupStats | undefined>;
  /**
   * UpdatePodSandboxResources, before the new pod-level resources are recorded: throws
   * SandboxTooSmallError when the sandbox cannot take them. Absent: any resources are taken.
   */
  checkSandboxResources?(sb: SandboxRecord, resources: cri.LinuxContainerResources__Output | null): Promise<void>;
  /** A TCP stream to 127.0.0.1:port inside the pod (CRI PortForward). Errors as 'error' events. */
  portForward(sb: SandboxRecord, port: number): Promise<Duplex>;
  /** Stops the sandbox process (containers are stopped by the manager first). Idempotent. */
  stopSandbox(sb: SandboxRecord, log: Logger): Promise<void>;
  /** Frees namespaces, cgroups and runtime state. Idempotent. */
  removeSandbox(sb: SandboxRecord, log: Logger): Promise<void>;
}
