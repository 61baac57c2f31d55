// The seam between the streaming protocols (SPDY/WebSocket sessions in this package) and whatever
// runs the processes: the daemon hands the server one backend keyed by CRI ids, which the
// orchestration layer serves through each pod's task runtime and pod controller
// (pkg/daemon/streaming-wiring.ts). The protocol code only ever sees these shapes.
import type { Duplex } from 'node:stream';
import type { ProcessStdio, StdioOptions } from '../runtime/task-runtime.js';

export type { ProcessStdio, StdioOptions } from '../runtime/task-runtime.js';

export interface StreamingBackend {
  exec(containerId: string, cmd: string[], opts: StdioOptions): Promise<ProcessStdio>;
  attach(containerId: string, opts: StdioOptions): Promise<ProcessStdio>;
  /** A TCP stream to 127.0.0.1:port inside the pod's network namespace. Errors as 'error' events. */
  portForward(podSandboxId: string, port: number): Promise<Duplex>;
}
