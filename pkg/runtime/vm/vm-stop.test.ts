// StopContainer on a micro-VM pod against a fake guest agent: the signal the manager decided is the
// one the guest gets, a huge grace period does not SIGKILL at once, and a SIGKILL the container
// survives fails the stop (as on runc pods) instead of being ignored.
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { ContainerRecord } from '../../store/records.js';
import { secondsToMs } from '../../sys/long-timeout.js';
import { KILL_EXIT_WAIT_MS } from '../sandbox-runtime.js';
import { VmSandboxRuntime } from './vm-runtime.js';

const log = pino({ level: 'silent' });
let dir: string;
let rt: VmSandboxRuntime;
let sent: { signal: number; all: boolean }[];
let exitNow: () => void;

const c = { id: 'c1', podId: 'p1', stopSignal: 'SIGTERM' } as ContainerRecord;

beforeEach(() => {
  vi.useFakeTimers();
  dir = mkdtempSync(join(tmpdir(), 'bulkhead-vm-stop-'));
  rt = new VmSandboxRuntime({
    handler: 'microvm',
    config: { kind: 'vm', qemu_path: 'qemu-system-x86_64', accelerator: 'tcg', memory_mib: 128, vcpus: 1, pool_size: 0, tcg_tb_size_mib: 64 },
    rootDir: dir,
    stateDir: dir,
    log,
  });
  sent = [];
  const state = { status: 'running' as const, pid: 7 };
  let resolveWait!: () => void;
  const waited = new Promise<void>((r) => (resolveWait = r));
  exitNow = () => {
    (ctr as { state: { status: string } }).state.status = 'exited';
    resolveWait();
  };
  const agent = {
    call: async (req: { signal_container?: { signal: number; all?: boolean }; wait_container?: object }) => {
      if (req.signal_container) sent.push({ signal: req.signal_container.signal, all: !!req.signal_container.all });
      if (req.wait_container) await waited;
      return {};
    },
  };
  const ctr = { podId: 'p1', state, logOffset: 0 };
  const inner = rt as unknown as { pods: Map<string, unknown>; ctrs: Map<string, unknown> };
  inner.pods.set('p1', { vm: { agent }, dead: false });
  inner.ctrs.set('c1', ctr);
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
    const failed = expect(stop).rejects.toMatchObject({ code: 13, message: 'container c1 did not exit after SIGKILL' });
    await vi.advanceTimersByTimeAsync(KILL_EXIT_WAIT_MS + 1);
    await failed;
    expect(sent).toEqual([{ signal: 9, all: true }]);
  });
});
