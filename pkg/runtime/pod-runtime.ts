// One runtime handler as the orchestration layer sees it: a pod controller and a task runtime of
// one kind, and what the handler says of itself. A third kind plugs in by implementing both halves
// and a PodRuntime factory, registered by kind in pkg/daemon/pods-subsystem.ts (the one place where
// a handler's kind picks its implementation).
import type { Logger } from 'pino';
import type { PodController, UserNamespaceSupport } from './pod-controller.js';
import type { TaskRuntime } from './task-runtime.js';

export type PodKind = 'oci' | 'vm';

/** What a handler reports in the CRI Status (`crictl info`) and its RuntimeHandlerFeatures. */
export interface HandlerStatus {
  /** Why the handler cannot run pods now; undefined when it can. */
  unavailable?: string;
  /** RuntimeHandlerFeatures.recursive_read_only_mounts. */
  recursiveReadOnlyMounts: boolean;
  /** Handler-specific details for `crictl info` (VM handlers: accelerator, guest image, pool). */
  details?: Record<string, unknown>;
}

/** Where the pod kinds differ in what the orchestration layer does around them. */
export interface PodRuntimeTraits {
  /**
   * The pod's host cgroup takes the pod's resource limits (UpdatePodSandboxResources). False for a
   * VM pod: its cgroup holds QEMU, whose guest RAM alone is memory_mib more than the containers'
   * limits (vm-size.ts), so their sum as memory.max would have the host OOM-kill the VM.
   */
  podCgroupLimits: boolean;
  /** Why CDI devices cannot reach this kind's containers; undefined when they can. */
  cdiRefusal?: string;
  /** Where a container's AppArmor profile is enforced: the host kernel, or a guest kernel (never the host's profiles). */
  appArmor: 'host' | 'guest';
}

export interface PodRuntime {
  readonly handler: string;
  readonly kind: PodKind;
  readonly controller: PodController;
  readonly tasks: TaskRuntime;
  readonly traits: PodRuntimeTraits;
  /** The accelerator in use (VM kinds: metrics, Status); undefined for namespace pods. */
  readonly accelerator?: 'kvm' | 'tcg';
  /**
   * Whether pods of this handler can have their own user namespace (userns_options mode POD):
   * `unsupported` says why not (RuntimeHandlerFeatures.user_namespaces is false and such pods are
   * refused); otherwise the idmap helper that maps the rootfs's lower layers.
   */
  userNamespaces(): UserNamespaceSupport;
  status(): HandlerStatus;
  /**
   * Background work the handler starts with the daemon (VM kinds: build or check the guest image so
   * the first pod does not wait, then fill the warm pool); failures are logged, not thrown.
   */
  start?(log: Logger): void;
  close(): Promise<void>;
}
