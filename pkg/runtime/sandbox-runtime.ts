// What a pod kind must provide: the OCI-namespace runtime (runc + conmon) implements it now,
// the micro-VM runtime later. Records are owned by the managers (pkg/sandbox, pkg/container);
// a runtime fills in its fields (namespaces, pids) and performs the process-level work.
import type { ContainerRecord, SandboxRecord } from '../store/records.js';
import type { Logger } from 'pino';
import type { CgroupStats } from '../cgroups/stats.js';
import type { PodNetworkStatus } from '../network/cni.js';
import type { OciResources } from '../oci/spec-types.js';
import type * as cri from '../api/cri-types.js';

export interface ContainerRuntimeState {
  status: 'created' | 'running' | 'exited' | 'unknown';
  pid: number;
  exitCode?: number;
  /** ns since epoch */
  finishedAt?: string;
  oomKilled?: boolean;
  /** Runtime-specific exit reason (e.g. the pod VM died); overrides the exit-code based one. */
  reason?: string;
  message?: string;
}

/** Takes an exec's output as it arrives; drops what is beyond the CRI cap, so keep feeding it to the end. */
export interface ExecOutputSink {
  push(chunk: Buffer): void;
}

/** One ExecSync as the container manager hands it to a runtime (pkg/container/exec-sync.ts). */
export interface ExecSyncRequest {
  cmd: string[];
  stdout: ExecOutputSink;
  stderr: ExecOutputSink;
  /** Aborted when the deadline passes: kill the exec'd process, then settle. */
  deadline: AbortSignal;
  /** The deadline in ms (0: none), for a runtime that also arms a timer of its own (the guest agent). */
  timeoutMs: number;
}

export interface ExecSyncExit {
  exitCode: number;
  /** The runtime saw the deadline pass itself (the guest agent's timer); the caller reports DEADLINE_EXCEEDED. */
  timedOut: boolean;
}

export type UserNamespaceSupport = { unsupported: string } | { idmapHelper: string };

/** Where the streaming server finds a container's attach/exec endpoints. */
export interface StreamTarget {
  id: string;
  podId: string;
  pid: number;
  bundleDir: string;
  runtimePath: string;
  runtimeRoot: string;
  attachSocketPath: string;
  ctlPath: string;
  tty: boolean;
  stdin: boolean;
  netnsPath?: string;
}

/** How to stop a container; the container manager decides both for every pod kind. */
export interface StopRequest {
  /** Signal number sent first (pkg/container/stop-signal.ts); SIGKILL (9) skips the grace period. */
  signal: number;
  /** Grace period before SIGKILL in ms (0: SIGKILL at once); may exceed Node's timer range (pkg/sys/long-timeout.ts). */
  timeoutMs: number;
}

/**
 * How long a runtime waits for the exit after SIGKILL before the stop fails: runc's and the guest
 * agent's kill take effect within milliseconds; 10 s only passes for a process stuck in the kernel
 * (D state) or a runtime that lost track of it.
 */
export const KILL_EXIT_WAIT_MS = 10_000;

export interface SandboxRuntime {
  readonly handler: string;
  readonly kind: 'oci' | 'vm';
  /** For VM runtimes: the accelerator in use (metrics, Status). Namespace runtimes leave it unset. */
  readonly accelerator?: 'kvm' | 'tcg';
  /**
   * Creates namespaces, pod cgroup and (if needed) the infra process; fills sb.namespaces/infra.
   * `withNamespaces` (pod networking) runs as soon as the namespaces exist, concurrently with the
   * rest of the start; its failure fails the start.
   */
  startSandbox(sb: SandboxRecord, log: Logger, withNamespaces?: () => Promise<void>): Promise<void>;
  /**
   * Whether pods of this handler can have their own user namespace (userns_options mode POD):
   * `unsupported` says why not (RuntimeHandlerFeatures.user_namespaces is false and such pods are
   * refused); otherwise the idmap helper that maps the rootfs's lower layers.
   */
  userNamespaces(): UserNamespaceSupport;
  /**
   * Called after startSandbox (and so after the pod network is set up) with the CNI result
   * (undefined without CNI or with host networking). The VM runtime boots or configures the pod VM
   * here, since the guest needs the veth's MAC, IPs and routes.
   */
  podNetworkReady?(sb: SandboxRecord, net: PodNetworkStatus | undefined, log: Logger): Promise<void>;
  /**
   * The container's cgroup statistics when they are not in a host cgroup (VM pods: read by the guest
   * agent); absent → the stats service reads c.cgroupsPath on the host.
   */
  containerCgroupStats?(c: ContainerRecord): Promise<CgroupStats | undefined>;
  /**
   * The pod's own usage when its host cgroup does not tell it all (VM pods: QEMU + virtiofsd read
   * from /proc, guest included); absent or undefined → the stats service reads the pod cgroup.
   */
  sandboxStats?(sb: SandboxRecord): Promise<CgroupStats | undefined>;
  /**
   * False when the sandbox's own process died under it (the pod VM's QEMU, the infra process):
   * the pod is then reported SANDBOX_NOTREADY, as containerd does when the sandbox task exits.
   * Unset or undefined: unknown (assumed alive).
   */
  sandboxAlive?(sb: SandboxRecord): boolean | undefined;
  /** Stops the infra process (containers are stopped by the manager first). Idempotent. */
  stopSandbox(sb: SandboxRecord, log: Logger): Promise<void>;
  /** Frees namespaces, cgroups and runtime state. Idempotent. */
  removeSandbox(sb: SandboxRecord, log: Logger): Promise<void>;
  /** Creates the container from the bundle (config.json written by the manager); fills c.pid/conmonPid. */
  createContainer(sb: SandboxRecord, c: ContainerRecord, log: Logger): Promise<void>;
  startContainer(c: ContainerRecord, log: Logger): Promise<void>;
  /**
   * stop.signal, then SIGKILL after stop.timeoutMs; resolves once the process is gone. Rejects
   * (INTERNAL) when it still runs KILL_EXIT_WAIT_MS after SIGKILL; a SIGKILL that finds the process
   * already gone is success.
   */
  stopContainer(c: ContainerRecord, stop: StopRequest, log: Logger): Promise<void>;
  removeContainer(c: ContainerRecord, log: Logger): Promise<void>;
  containerState(c: ContainerRecord): Promise<ContainerRuntimeState>;
  /** Runs req.cmd in the container, output into req.stdout/stderr; the caller owns deadline and cap. */
  execSync(c: ContainerRecord, req: ExecSyncRequest, log: Logger): Promise<ExecSyncExit>;
  /**
   * Applies OCI LinuxResources (pkg/oci/resources.ts, as at create) to a running/created container.
   * others: the pod's other live containers (a runtime whose pod cannot grow checks their sum);
   * throws SandboxTooSmallError when the pod would need more than its sandbox can have.
   */
  updateResources(c: ContainerRecord, ociResources: OciResources, others?: readonly ContainerRecord[]): Promise<void>;
  /**
   * UpdatePodSandboxResources, before the new pod-level resources are recorded: throws
   * SandboxTooSmallError when the sandbox cannot take them. Absent: any resources are taken.
   */
  checkSandboxResources?(sb: SandboxRecord, resources: cri.LinuxContainerResources__Output | null): Promise<void>;
  reopenLog(c: ContainerRecord): Promise<void>;
  streamTarget(sb: SandboxRecord | undefined, c: ContainerRecord): StreamTarget;
  /** Called with a container id whenever its process exits (exit file appeared). */
  onExit(listener: (containerId: string) => void): void;
  close(): Promise<void>;
}
