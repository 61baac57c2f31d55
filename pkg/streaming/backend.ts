// The seam between the streaming protocols and whatever runs the processes: namespace
// containers (runc + conmon, oci-backend.ts) today, micro-VM guests (process I/O over the guest
// channel) later. The protocol code only ever sees these two shapes.
import type { Duplex, Readable, Writable } from 'node:stream';

export interface StdioOptions {
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

/** A running process's I/O. With tty, stdout carries the terminal and stderr is absent. */
export interface ProcessStdio {
  stdin?: Writable;
  stdout?: Readable;
  stderr?: Readable;
  /** Terminal resize (tty only); columns × rows. */
  resize?(width: number, height: number): void;
  /**
   * Resolves when the session is over: exec → the process exited (exitCode set);
   * attach → the container's output ended or the client detached (no exitCode).
   */
  wait(): Promise<{ exitCode?: number }>;
  /** The client vanished: exec kills the process; attach only detaches (the container keeps running). */
  kill(): void;
}

export interface StreamingBackend {
  exec(containerId: string, cmd: string[], opts: StdioOptions): Promise<ProcessStdio>;
  attach(containerId: string, opts: StdioOptions): Promise<ProcessStdio>;
  /** A TCP stream to 127.0.0.1:port inside the pod's network namespace. Errors as 'error' events. */
  portForward(podSandboxId: string, port: number): Promise<Duplex>;
}
