// The ExecSync contract, the same for every pod kind: a deadline from the CRI timeout (seconds,
// int64; 0 or negative: none) that kills the command and answers DEADLINE_EXCEEDED — what kubelet
// turns into a timed-out exec probe, and what containerd returns — and a cap on each output
// stream. Runtimes only run the command and feed the output sinks.
import { deadlineExceeded } from '../errors/errors.js';
import type { ExecOutputSink, ExecSyncExit, ExecSyncRequest } from '../runtime/task-runtime.js';
import { secondsToMs, setLongTimeout } from '../sys/long-timeout.js';

/**
 * Cap on each of ExecSync's stdout/stderr; the rest is dropped (the command still runs to its
 * end). Both together must fit in one gRPC message under kubelet's/crictl's 16 MiB receive limit.
 */
export const EXEC_SYNC_OUTPUT_CAP = 8 * 1024 * 1024 - 4096;

/**
 * After the deadline, how long the runtime gets to kill the command and settle before ExecSync
 * answers anyway: runc and the guest agent kill within milliseconds; 10 s only passes when the
 * guest agent stopped answering.
 */
export const EXEC_KILL_GRACE_MS = 10_000;

/** Keeps the first `cap` bytes pushed into it. */
export class CappedOutput implements ExecOutputSink {
  private readonly parts: Buffer[] = [];
  private size = 0;
  constructor(private readonly cap: number) {}
  push(chunk: Buffer): void {
    if (this.size >= this.cap) return;
    const take = chunk.subarray(0, this.cap - this.size);
    this.parts.push(take);
    this.size += take.length;
  }
  get(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export interface ExecSyncOutput {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

export interface ExecSyncLimits {
  outputCap: number;
  killGraceMs: number;
}

const LIMITS: ExecSyncLimits = { outputCap: EXEC_SYNC_OUTPUT_CAP, killGraceMs: EXEC_KILL_GRACE_MS };

/** Runs one ExecSync through `exec` (a runtime's execSync); rejects DEADLINE_EXCEEDED on timeout. */
export async function runExecSync(
  exec: (req: ExecSyncRequest) => Promise<ExecSyncExit>,
  cmd: string[],
  timeoutSec: number,
  limits: ExecSyncLimits = LIMITS,
): Promise<ExecSyncOutput> {
  const timeoutMs = secondsToMs(timeoutSec);
  const stdout = new CappedOutput(limits.outputCap);
  const stderr = new CappedOutput(limits.outputCap);
  const deadline = new AbortController();
  let grace: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<'gave-up'>((resolve) => {
    deadline.signal.addEventListener('abort', () => (grace = setTimeout(() => resolve('gave-up'), limits.killGraceMs)), { once: true });
  });
  const timer = timeoutMs > 0 ? setLongTimeout(() => deadline.abort(), timeoutMs) : undefined;
  const timedOut = () => deadlineExceeded(`command ${JSON.stringify(cmd)} timed out after ${timeoutSec}s`);
  const running = exec({ cmd, stdout, stderr, deadline: deadline.signal, timeoutMs });
  void running.catch(() => undefined); // still awaited below unless the grace period ran out first
  try {
    const r = await Promise.race([running, gaveUp]);
    if (r === 'gave-up' || r.timedOut || deadline.signal.aborted) throw timedOut();
    return { stdout: stdout.get(), stderr: stderr.get(), exitCode: r.exitCode };
  } catch (e) {
    // Killing the command may fail the runtime's call (a closed stream): the deadline is the cause.
    if (deadline.signal.aborted) throw timedOut();
    throw e;
  } finally {
    timer?.cancel();
    clearTimeout(grace);
  }
}
