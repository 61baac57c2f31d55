// Builds the streaming server for the daemon: the OCI backend fed by the pods subsystem's
// stream-info lookups, and the CRI Exec/Attach/PortForward handlers that register requests.
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { RuntimeHandlers } from '../grpc/handlers.js';
import type { PodsSubsystem } from './pods-subsystem.js';
import { streamingHandlers } from '../cri/streaming.js';
import { OciStreamingBackend } from '../streaming/oci-backend.js';
import type { StreamingBackend } from '../streaming/backend.js';
import { VmStreamingBackend } from '../streaming/vm-backend.js';
import { BackendRouter } from '../streaming/backend-router.js';
import { VmSandboxRuntime } from '../runtime/vm/vm-runtime.js';
import { StreamingServer } from '../streaming/server.js';

export interface StreamingSubsystem {
  server: StreamingServer;
  handlers: Pick<RuntimeHandlers, 'Exec' | 'Attach' | 'PortForward'>;
}

export function buildStreaming(config: Config, pods: PodsSubsystem, log: Logger): StreamingSubsystem {
  const info = pods.streamInfo;
  const oci = new OciStreamingBackend({
    targets: {
      container: (id) => ({ ...info.getContainerRuntimeInfo(id), stdinOnce: pods.containers.get(id).stdinOnce }),
      podNetns: (podId) => info.getPodNetns(podId),
    },
    log,
  });
  const backend = withVmBackend(oci, pods);
  const server = new StreamingServer({
    address: config.streaming.address,
    port: config.streaming.port,
    tokenTtlSeconds: config.streaming.token_ttl_seconds,
    backend,
    log,
  });
  const handlers = streamingHandlers({
    registry: server,
    lookup: {
      container: (id) => info.getContainerRuntimeInfo(id),
      pod: (id) => pods.sandboxes.get(id),
    },
  });
  return { server, handlers };
}

/** Routes VM pods' exec/port-forward to the agent channel, namespace pods to runc/conmon. */
export function withVmBackend(oci: StreamingBackend, pods: PodsSubsystem): StreamingBackend {
  const vmOf = (handler: string): VmSandboxRuntime | undefined => {
    const rt = pods.runtimes.get(handler);
    return rt instanceof VmSandboxRuntime ? rt : undefined;
  };
  const vm = new VmStreamingBackend({
    async containerAgent(id) {
      const c = pods.containers.get(id);
      return { agent: await vmOf(c.handler)!.agentOf(c.podId), containerId: c.id, stdinOnce: c.stdinOnce };
    },
    async podAgent(podId) {
      const sb = pods.sandboxes.get(podId);
      return vmOf(sb.handler)!.agentOf(sb.id);
    },
  });
  const kindOf = (handler: string) => pods.runtimes.get(handler)?.kind ?? 'oci';
  return new BackendRouter(
    {
      containerKind: (id) => kindOf(pods.containers.get(id).handler),
      podKind: (id) => kindOf(pods.sandboxes.get(id).handler),
    },
    { oci, vm },
  );
}
