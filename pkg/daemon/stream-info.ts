// What the streaming server (Exec/Attach/PortForward) needs to reach a container or a pod:
// runtime binary/root for `runc exec`, conmon's attach socket and ctl FIFO, the pod netns.
import type { ContainerManager } from '../container/container-manager.js';
import type { SandboxManager } from '../sandbox/sandbox-manager.js';
import type { ContainerStateName } from '../store/records.js';
import type { StreamTarget } from '../runtime/sandbox-runtime.js';

/**
 * A container's StreamTarget (see pkg/runtime/sandbox-runtime.ts) plus its state. The attach
 * socket path can exceed sun_path (108 bytes): connect via `/proc/self/fd/<dirfd>/attach` after
 * opening its directory. The ctl FIFO takes "1 <height> <width>\n" (resize), "2 0 0\n" (reopen log).
 */
export interface ContainerRuntimeInfo extends StreamTarget {
  state: ContainerStateName;
}

export interface StreamInfoSource {
  /** Throws NotFound (gRPC) when no container matches the id or unique prefix. */
  getContainerRuntimeInfo(id: string): ContainerRuntimeInfo;
  /** The pod's pinned netns file; undefined for host-network pods or unknown ids. */
  getPodNetns(podId: string): string | undefined;
}

export function streamInfoSource(sandboxes: SandboxManager, containers: ContainerManager): StreamInfoSource {
  return {
    getContainerRuntimeInfo(id) {
      const c = containers.get(id);
      const t = containers.streamTarget(c.id);
      return { ...t, state: c.state };
    },
    getPodNetns(podId) {
      return sandboxes.find(podId)?.namespaces.net;
    },
  };
}
