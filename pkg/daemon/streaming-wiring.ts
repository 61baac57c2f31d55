// Builds the streaming server for the daemon: one backend keyed by CRI ids whose sessions the pod
// and container managers serve through each pod's own task runtime and pod controller (no kind
// switch here), and the CRI Exec/Attach/PortForward handlers that register requests.
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { RuntimeHandlers } from '../grpc/handlers.js';
import type { PodsSubsystem } from './pods-subsystem.js';
import { streamingHandlers } from '../cri/streaming.js';
import type { StreamingBackend } from '../streaming/backend.js';
import { StreamingServer } from '../streaming/server.js';

export interface StreamingSubsystem {
  server: StreamingServer;
  handlers: Pick<RuntimeHandlers, 'Exec' | 'Attach' | 'PortForward'>;
}

export function buildStreaming(config: Config, pods: PodsSubsystem, log: Logger): StreamingSubsystem {
  const server = new StreamingServer({
    address: config.streaming.address,
    port: config.streaming.port,
    tokenTtlSeconds: config.streaming.token_ttl_seconds,
    backend: streamingBackend(pods),
    log,
  });
  const handlers = streamingHandlers({
    registry: server,
    lookup: {
      container: (id) => pods.containers.get(id),
      pod: (id) => pods.sandboxes.get(id),
    },
  });
  return { server, handlers };
}

/** Exec/attach through the container's task runtime, port-forward through the pod's controller. */
export function streamingBackend(pods: Pick<PodsSubsystem, 'containers' | 'sandboxes'>): StreamingBackend {
  return {
    exec: (id, cmd, opts) => pods.containers.execStream(id, cmd, opts),
    attach: (id, opts) => pods.containers.attachStream(id, opts),
    portForward: (podId, port) => pods.sandboxes.portForward(podId, port),
  };
}
