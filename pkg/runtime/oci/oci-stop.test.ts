// StopContainer on a runc pod sends the signal number the manager parsed (pkg/container/stop-signal.ts),
// here to a real child process standing in for the container's init. The fake runc does nothing on
// `kill`: only the direct signal to the recorded pid reaches the process.
import { afterAll, describe, expect, test } from 'vitest';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseStopSignal } from '../../container/stop-signal.js';
import type { ContainerRecord } from '../../store/records.js';
import { procStartTime } from '../../sys/proc.js';
import { ExitWatcher } from './exit-watcher.js';
import { OciPodRuntime } from './oci-runtime.js';

const log = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'bulkhead-oci-stop-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fakeRunc = join(dir, 'fake-runc');
writeFileSync(fakeRunc, '#!/bin/sh\nexit 0\n');
chmodSync(fakeRunc, 0o755);

const rt = new OciPodRuntime({
  log: pino({ level: 'silent' }),
  handler: 'runc',
  config: { kind: 'oci', runtime_path: fakeRunc, monitor_path: 'conmon' },
  stateDir: dir,
  exitWatcher: new ExitWatcher(join(dir, 'exits')),
  hostOomScoreAdjMin: 0,
}).tasks;

describe('runc pod StopContainer', () => {
  test.each(['SIGRTMIN+3', 'USR1', '10'])('stop signal %s reaches the process as a number, within the grace period', async (name) => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
    const pid = child.pid!;
    const c = { id: `c-${name}`, pid, pidStartTime: procStartTime(pid), conmonPid: 0 } as ContainerRecord;
    const t0 = Date.now();
    await rt.stopContainer(c, { signal: parseStopSignal(name), timeoutMs: 20_000 }, log);
    // Before, "SIGRTMIN+3" had no number: `runc kill … SIGRTMIN+3` (which runc refuses) and SIGKILL after the grace period.
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect((await exited).signal).not.toBe('SIGKILL');
  });
});
