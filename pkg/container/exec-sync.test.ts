import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { ExecSyncExit, ExecSyncRequest } from '../runtime/task-runtime.js';
import { MAX_TIMER_MS } from '../sys/long-timeout.js';
import { CappedOutput, EXEC_KILL_GRACE_MS, EXEC_SYNC_OUTPUT_CAP, runExecSync } from './exec-sync.js';


/** A command that runs for runMs, or until the deadline kills it (exit 137, as after SIGKILL). */
function fakeExec(runMs: number, out: (req: ExecSyncRequest) => void = () => undefined) {
  const seen: { aborted: boolean } = { aborted: false };
  const exec = (req: ExecSyncRequest) =>
    new Promise<ExecSyncExit>((resolve) => {
      out(req);
      const t = setTimeout(() => resolve({ exitCode: 0, timedOut: false }), runMs);
      req.deadline.addEventListener('abort', () => {
        seen.aborted = true;
        clearTimeout(t);
        resolve({ exitCode: 137, timedOut: false });
      });
    });
  return { exec, seen };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('ExecSync contract', () => {
  test('a command that finishes in time: its exit code and output', async () => {
    const { exec } = fakeExec(500, (req) => {
      req.stdout.push(Buffer.from('out\n'));
      req.stderr.push(Buffer.from('err\n'));
    });
    const p = runExecSync(exec, ['sh'], 1);
    await vi.advanceTimersByTimeAsync(500);
    await expect(p).resolves.toEqual({ stdout: Buffer.from('out\n'), stderr: Buffer.from('err\n'), exitCode: 0 });
  });

  test('timeout: the runtime is told to kill, the answer is DEADLINE_EXCEEDED (not OK with its exit code)', async () => {
    const { exec, seen } = fakeExec(60_000);
    const p = runExecSync(exec, ['sleep', '60'], 1);
    const failed = expect(p).rejects.toMatchObject({ kind: 'deadline-exceeded', message: 'command ["sleep","60"] timed out after 1s' });
    await vi.advanceTimersByTimeAsync(1_000);
    await failed;
    expect(seen.aborted).toBe(true);
  });

  test('a runtime that saw the timeout itself (the guest agent timer): DEADLINE_EXCEEDED too', async () => {
    const exec = async (): Promise<ExecSyncExit> => ({ exitCode: -1, timedOut: true });
    await expect(runExecSync(exec, ['x'], 5)).rejects.toMatchObject({ kind: 'deadline-exceeded' });
  });

  test('a runtime whose call fails because of the kill: DEADLINE_EXCEEDED, not its error', async () => {
    const exec = (req: ExecSyncRequest) => new Promise<ExecSyncExit>((_r, reject) => req.deadline.addEventListener('abort', () => reject(new Error('stream closed'))));
    const p = runExecSync(exec, ['x'], 2);
    const failed = expect(p).rejects.toMatchObject({ kind: 'deadline-exceeded' });
    await vi.advanceTimersByTimeAsync(2_000);
    await failed;
  });

  test('a runtime that never settles after the deadline (agent gone): DEADLINE_EXCEEDED after the kill grace', async () => {
    const exec = () => new Promise<ExecSyncExit>(() => undefined);
    let settled = false;
    const p = runExecSync(exec, ['x'], 1).finally(() => (settled = true));
    const failed = expect(p).rejects.toMatchObject({ kind: 'deadline-exceeded' });
    await vi.advanceTimersByTimeAsync(1_000 + EXEC_KILL_GRACE_MS - 1);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await failed;
  });

  test('an int64-max timeout does not fire after 1 ms (Node timer overflow)', async () => {
    const { exec, seen } = fakeExec(10_000);
    const p = runExecSync(exec, ['x'], Number('9223372036854775807'));
    await vi.advanceTimersByTimeAsync(10_000);
    await expect(p).resolves.toMatchObject({ exitCode: 0 });
    expect(seen.aborted).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('timeout 0 or negative: no deadline', async () => {
    for (const t of [0, -1]) {
      const { exec, seen } = fakeExec(2 * MAX_TIMER_MS);
      const p = runExecSync(exec, ['x'], t);
      await vi.advanceTimersByTimeAsync(2 * MAX_TIMER_MS);
      await expect(p).resolves.toMatchObject({ exitCode: 0 });
      expect(seen.aborted).toBe(false);
    }
  });

  test('other runtime errors pass through unchanged', async () => {
    const boom = new Error('pod VM not running');
    await expect(runExecSync(() => Promise.reject(boom), ['x'], 5)).rejects.toBe(boom);
  });

  test('output: each stream capped at EXEC_SYNC_OUTPUT_CAP, the command still runs to its end', async () => {
    const chunk = Buffer.alloc(1 << 20, 0x61);
    const { exec } = fakeExec(10, (req) => {
      for (let i = 0; i < 20; i++) req.stdout.push(chunk);
      req.stderr.push(Buffer.from('e'));
      for (let i = 0; i < 9; i++) req.stderr.push(chunk);
    });
    const p = runExecSync(exec, ['x'], 0);
    await vi.advanceTimersByTimeAsync(10);
    const r = await p;
    expect(r.exitCode).toBe(0);
    expect(r.stdout.length).toBe(EXEC_SYNC_OUTPUT_CAP);
    expect(r.stderr.length).toBe(EXEC_SYNC_OUTPUT_CAP);
    expect(r.stderr[0]).toBe(0x65);
    // Both must fit one gRPC message under the 16 MiB receive limit of kubelet and crictl.
    expect(r.stdout.length + r.stderr.length).toBeLessThan(16 * 1024 * 1024);
  });
});

describe('CappedOutput', () => {
  test('keeps the first cap bytes, cutting inside a chunk', () => {
    const o = new CappedOutput(5);
    o.push(Buffer.from('abc'));
    o.push(Buffer.from('defg'));
    o.push(Buffer.from('h'));
    expect(o.get().toString()).toBe('abcde');
  });
});
