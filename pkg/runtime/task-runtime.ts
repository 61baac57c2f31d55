// The per-container half of a pod kind (containerd's task service, CRI-O's RuntimeImpl): create,
// start, signal, wait, exec, attach, update and report the containers of one handler's pods. Records
// are owned by the container manager (pkg/container); a task runtime fills in the process fields
// (pid, monitor pid) and does the process-level work. Its pod-level twin is pod-controller.ts.
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { ContainerRecord, SandboxRecord } from '../store/records.js';
import type { CgroupStats } from '../cgroups/stats.js';
import type { OciResources } from '../oci/spec-types.js';

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

/** Which stdio a streaming session (CRI Exec/Attach) wants. */
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

export interface TaskRuntime {
  /** Creates the container from the bundle (config.json written by the manager); fills c.pid/conmonPid. */
  createContainer(sb: SandboxRecord, c: ContainerRecord, log: Logger): Promise<void>;
  startContainer(c: ContainerRecord, log: Logger): Promise<void>;
  /**
   * stop.signal, then SIGKILL after stop.timeoutMs; resolves once the process is gone. Rejects
   * (internal) when it still runs KILL_EXIT_WAIT_MS after SIGKILL; a SIGKILL that finds the process
   * already gone is success.
   */
  stopContainer(c: ContainerRecord, stop: StopRequest, log: Logger): Promise<void>;
  removeContainer(c: ContainerRecord, log: Logger): Promise<void>;
  containerState(c: ContainerRecord): Promise<ContainerRuntimeState>;
  /** Runs req.cmd in the container, output into req.stdout/stderr; the caller owns deadline and cap. */
  execSync(c: ContainerRecord, req: ExecSyncRequest, log: Logger): Promise<ExecSyncExit>;
  /** A streaming exec (CRI Exec): the process's live stdio; kill() ends it. */
  exec(c: ContainerRecord, cmd: string[], opts: StdioOptions): Promise<ProcessStdio>;
  /** A streaming attach (CRI Attach) to the container's own stdio; kill() only detaches. */
  attach(c: ContainerRecord, opts: StdioOptions): Promise<ProcessStdio>;
  /**
   * Applies OCI LinuxResources (pkg/oci/resources.ts, as at create) to a running/created container.
   * others: the pod's other live containers (a runtime whose pod cannot grow checks their sum);
   * throws SandboxTooSmallError when the pod would need more than its sandbox can have.
   */
  updateResources(c: ContainerRecord, ociResources: OciResources, others?: readonly ContainerRecord[]): Promise<void>;
  reopenLog(c: ContainerRecord): Promise<void>;
  /**
   * The container's cgroup statistics when they are not in a host cgroup (VM pods: read by the guest
   * agent); absent → the stats service reads c.cgroupsPath on the host.
   */
  containerCgroupStats?(c: ContainerRecord): Promise<CgroupStats | undefined>;
  /** Called with a container id whenever its process exits. */
  onExit(listener: (containerId: string) => void): void;
}
