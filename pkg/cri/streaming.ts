// Exec, Attach, PortForward: validate the request, register it with the streaming server and
// return the single-use URL the client (kubelet, crictl) opens. The streaming itself happens
// on that HTTP connection (pkg/streaming).
import type { RuntimeHandlers } from '../grpc/handlers.js';
import { failedPrecondition, invalidArgument, resourceExhausted } from '../errors/errors.js';
import { TooManyRequestsError, type StreamRequest } from '../streaming/tokens.js';

export interface StreamingLookup {
  /** Throws NotFound for an unknown container id/prefix. */
  container(id: string): { id: string; podId: string; state: string };
  /** Throws NotFound for an unknown pod id/prefix. */
  pod(id: string): { id: string; state: string };
}

export interface StreamingRegistry {
  register(req: StreamRequest): string;
}

function stdio(req: { tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }) {
  if (!req.stdin && !req.stdout && !req.stderr) throw invalidArgument('one of stdin, stdout, or stderr must be set');
  if (req.tty && req.stderr) throw invalidArgument('tty and stderr cannot both be true');
  return { tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr };
}

function register(registry: StreamingRegistry, req: StreamRequest): { url: string } {
  try {
    return { url: registry.register(req) };
  } catch (e) {
    if (e instanceof TooManyRequestsError) throw resourceExhausted(e.message);
    throw e;
  }
}

export function streamingHandlers(deps: { registry: StreamingRegistry; lookup: StreamingLookup }): Pick<RuntimeHandlers, 'Exec' | 'Attach' | 'PortForward'> {
  const runningContainer = (id: string): string => {
    if (!id) throw invalidArgument('container_id must not be empty');
    const c = deps.lookup.container(id);
    if (c.state !== 'CONTAINER_RUNNING') throw failedPrecondition(`container ${c.id} is not running (${c.state})`);
    return c.id;
  };
  return {
    async Exec(req, ctx) {
      if (!req.cmd.length) throw invalidArgument('cmd must not be empty');
      const opts = stdio(req);
      const containerId = runningContainer(req.container_id);
      ctx.log.info({ containerId, cmd: req.cmd, ...opts }, 'exec registered');
      return register(deps.registry, { kind: 'exec', containerId, cmd: req.cmd, ...opts });
    },
    async Attach(req, ctx) {
      const opts = stdio(req);
      const containerId = runningContainer(req.container_id);
      ctx.log.info({ containerId, ...opts }, 'attach registered');
      return register(deps.registry, { kind: 'attach', containerId, ...opts });
    },
    async PortForward(req, ctx) {
      if (!req.pod_sandbox_id) throw invalidArgument('pod_sandbox_id must not be empty');
      const ports = req.port.map(Number);
      const bad = ports.find((p) => !Number.isInteger(p) || p < 1 || p > 65535);
      if (bad !== undefined) throw invalidArgument(`invalid port ${bad}`);
      const pod = deps.lookup.pod(req.pod_sandbox_id);
      if (pod.state !== 'SANDBOX_READY') throw failedPrecondition(`pod sandbox ${pod.id} is not ready`);
      ctx.log.info({ podId: pod.id, ports }, 'port-forward registered');
      return register(deps.registry, { kind: 'portforward', podSandboxId: pod.id, ports });
    },
  };
}
