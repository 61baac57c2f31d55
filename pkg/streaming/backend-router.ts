// Picks the StreamingBackend by pod kind: namespace containers (oci: runc/conmon) or micro-VM
// pods (vm: process I/O and TCP streams over the guest agent channel).
import type { Duplex } from 'node:stream';
import type { ProcessStdio, StdioOptions, StreamingBackend } from './backend.js';

export type PodKind = 'oci' | 'vm';

export interface KindLookup {
  /** Kind of the pod a container belongs to (throws for unknown containers). */
  containerKind(containerId: string): PodKind;
  /** Kind of a pod (throws for unknown pods). */
  podKind(podSandboxId: string): PodKind;
}

export class BackendRouter implements StreamingBackend {
  constructor(
    private readonly kinds: KindLookup,
    private readonly backends: Partial<Record<PodKind, StreamingBackend>>,
  ) {}

  exec(containerId: string, cmd: string[], opts: StdioOptions): Promise<ProcessStdio> {
    return this.pick(this.kinds.containerKind(containerId)).exec(containerId, cmd, opts);
  }

  attach(containerId: string, opts: StdioOptions): Promise<ProcessStdio> {
    return this.pick(this.kinds.containerKind(containerId)).attach(containerId, opts);
  }

  portForward(podSandboxId: string, port: number): Promise<Duplex> {
    return this.pick(this.kinds.podKind(podSandboxId)).portForward(podSandboxId, port);
  }

  private pick(kind: PodKind): StreamingBackend {
    const b = this.backends[kind];
    if (!b) throw new Error(`streaming is not supported for ${kind} pods yet`);
    return b;
  }
}
