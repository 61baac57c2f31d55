// StopContainer and ExecSync on a micro-VM pod against a fake guest agent, held to the contract runc
// pods keep: the signal the manager decided is the one the guest gets, a huge grace period does not
// SIGKILL at once, a SIGKILL the container survives fails the stop; an ExecSync timeout kills the
// command and answers DEADLINE_EXCEEDED, and the output is capped on the host.
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { ContainerRecord } from '../../store/records.js';
import { secondsToMs } from '../../sys/long-timeout.js';
import { KILL_EXIT_WAIT_MS } from '../task-runtime.js';
import { EXEC_SYNC_OUTPUT_CAP, runExecSync } from '../../container/exec-sync.js';
import type { StreamHandlers } from '../../vmchannel/client.js';
import { vmTasksWithPod } from '../../../test/fakes/vm-tasks.js';
import type { VmTaskRuntime } from './vm-task-runtime.js';

const log = pino({ level: 'silent' });
let dir: string;
let rt: VmTaskRuntime;
let sent: { signal: number; all: boolean }[];
let exitNow: () => void;
/** The exec the fake agent runs: gets the stream's handlers and the exec_process request. */
let execHandler: (h: StreamHandlers, req: { timeout_seconds: number }) => void;
let execRequests: { timeout_seconds: number }[];

const c = { id: 'c1', podId: 'p1', stopSignal: 'SIGTERM' } as ContainerRecord;

beforeEach(() => {
  vi.useFakeTimers();
  dir = mkdtempSync(join(tmpdir(), 'bulkhead-vm-stop-'));
  sent = [];
  execRequests = [];
  execHandler = () => undefined;
  let execStream: StreamHandlers = {};
  const state = { status: 'running' as const, pid: 7 };
  let resolveWait!: () => void;
  const waited = new Promise<void>((r) => (resolveWait = r));
  exitNow = () => {
    (ctr as { state: { status: string } }).state.status = 'exited';
    resolveWait();
  };
  const agent = {
    call: async (kind: string, req: { signal?: number; all?: boolean; exec_id?: string }) => {
      if (kind === 'signal_container') sent.push({ signal: req.signal!, all: !!req.all });
      if (kind === 'wait_container') await waited;
      if (kind === 'signal_exec') {
        sent.push({ signal: req.signal!, all: false });
        // The guest kills the exec'd process: its stream closes with the SIGKILL status.
        setTimeout(() => execStream.onClose?.({ exit_code: 137, reason: 'Error' } as never), 5);
      }
      return {};
    },
    openStream: (_kind: 'exec_process', req: { timeout_seconds: number }, h: StreamHandlers) => {
      execStream = h;
      execRequests.push(req);
      setTimeout(() => execHandler(h, req), 0);
      return { response: Promise.resolve({ exec_id: 'exec-1', pid: 9 }) };
    },
  };
  const ctr = { podId: 'p1', state, logOffset: 0 };
  const made = vmTasksWithPod(dir, 'p1', { vm: { agent } });
  rt = made.tasks;
  made.inner.ctrs.set('c1', ctr);
});

afterEach(() => {
  vi.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
});

describe('VM pod StopContainer', () => {
  test('sends the stop signal it is given (9 from "9": SIGKILL at once, not 15)', async () => {
    const stop = rt.stopContainer(c, { signal: 9, timeoutMs: 30_000 }, log);
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual([{ signal: 9, all: true }]);
    exitNow();
    await stop;
  });

  test('SIGUSR1 as the stop signal, exit within the grace period: no SIGKILL', async () => {
    const stop = rt.stopContainer(c, { signal: 10, timeoutMs: 5_000 }, log);
    await vi.advanceTimersByTimeAsync(1_000);
    exitNow();
    await stop;
    expect(sent).toEqual([{ signal: 10, all: false }]);
  });

  test('an int64-max timeout waits instead of SIGKILLing after 1 ms', async () => {
    const stop = rt.stopContainer(c, { signal: 15, timeoutMs: secondsToMs(Number('9223372036854775807')) }, log);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sent).toEqual([{ signal: 15, all: false }]);
    exitNow();
    await stop;
  });

  test('a container still running KILL_EXIT_WAIT_MS after SIGKILL fails the stop with INTERNAL', async () => {
    const stop = rt.stopContainer(c, { signal: 15, timeoutMs: 0 }, log);
    const failed = expect(stop).rejects.toMatchObject({ kind: 'internal', message: 'container c1 did not exit after SIGKILL' });
    await vi.advanceTimersByTimeAsync(KILL_EXIT_WAIT_MS + 1);
    await failed;
    expect(sent).toEqual([{ signal: 9, all: true }]);
  });
});

describe('VM pod ExecSync (through the shared contract)', () => {
  const execSync = (timeoutSec: number) => runExecSync((req) => rt.execSync(c, req, log), ['sleep', '60'], timeoutSec);

  test('timeout: the exec is killed in the guest and the answer is DEADLINE_EXCEEDED, not OK with exit -1', async () => {
    const p = execSync(1);
    const failed = expect(p).rejects.toMatchObject({ kind: 'deadline-exceeded', message: 'command ["sleep","60"] timed out after 1s' });
    await vi.advanceTimersByTimeAsync(1_010);
    await failed;
    expect(sent).toEqual([{ signal: 9, all: false }]);
    expect(execRequests[0]!.timeout_seconds).toBe(1);
  });

  test("the guest agent's own timeout (reason Timeout) is DEADLINE_EXCEEDED too", async () => {
    execHandler = (h) => h.onClose?.({ exit_code: 137, reason: 'Timeout' } as never);
    const p = execSync(1);
    const failed = expect(p).rejects.toMatchObject({ kind: 'deadline-exceeded' });
    await vi.advanceTimersByTimeAsync(0);
    await failed;
  });

  test('output is capped on the host as on runc pods', async () => {
    const chunk = Buffer.alloc(1 << 20, 0x61);
    execHandler = (h) => {
      for (let i = 0; i < 20; i++) h.onData?.(1, chunk);
      h.onData?.(2, Buffer.from('err'));
      h.onClose?.({ exit_code: 0, reason: '' } as never);
    };
    const p = execSync(0);
    await vi.advanceTimersByTimeAsync(0);
    const r = await p;
    expect(r.stdout.length).toBe(EXEC_SYNC_OUTPUT_CAP);
    expect(r.stderr.toString()).toBe('err');
    expect(execRequests[0]!.timeout_seconds).toBe(0);
  });

  test('an int64-max timeout: no deadline fires early, and the guest gets no timer it would overflow', async () => {
    execHandler = (h) => setTimeout(() => h.onClose?.({ exit_code: 0, reason: '' } as never), 30_000);
    const p = execSync(Number('9223372036854775807'));
    await vi.advanceTimersByTimeAsync(30_000);
    await expect(p).resolves.toMatchObject({ exitCode: 0 });
    expect(sent).toEqual([]);
    expect(execRequests[0]!.timeout_seconds).toBe(0);
  });
});
