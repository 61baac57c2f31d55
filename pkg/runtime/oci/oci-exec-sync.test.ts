// ExecSync on a runc pod, through the shared contract (pkg/container/exec-sync.ts), with a fake
// OCI runtime: a shell script that runs <bundle>/fake-cmd as `runc exec` would, writing its pid
// to --pid-file. Needs only /bin/sh, sleep and head: nothing of the host's container setup.
import { afterAll, describe, expect, test } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { EXEC_SYNC_OUTPUT_CAP, runExecSync } from '../../container/exec-sync.js';
import type { ContainerRecord } from '../../store/records.js';
import { ExitWatcher } from './exit-watcher.js';
import { OciPodRuntime } from './oci-runtime.js';

const log = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'bulkhead-oci-exec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fakeRunc = join(dir, 'fake-runc');
writeFileSync(
  fakeRunc,
  `#!/bin/sh
while [ $# -gt 0 ]; do
  case "$1" in
    --process) bundle=$(dirname "$(dirname "$2")"); shift ;;
    --pid-file) echo $$ > "$2"; shift ;;
  esac
  shift
done
exec /bin/sh -c "$(cat "$bundle/fake-cmd")"
`,
);
chmodSync(fakeRunc, 0o755);

const rt = new OciPodRuntime({
  log: pino({ level: 'silent' }),
  handler: 'runc',
  config: { kind: 'oci', runtime_path: fakeRunc, monitor_path: 'conmon' },
  stateDir: dir,
  exitWatcher: new ExitWatcher(join(dir, 'exits')),
  hostOomScoreAdjMin: 0,
}).tasks;

let n = 0;
function container(script: string): ContainerRecord {
  const bundleDir = join(dir, `c${++n}`);
  mkdirSync(bundleDir);
  writeFileSync(join(bundleDir, 'config.json'), JSON.stringify({ process: { args: ['x'] } }));
  writeFileSync(join(bundleDir, 'fake-cmd'), script);
  return { id: `c${n}`, bundleDir } as ContainerRecord;
}

const execSync = (c: ContainerRecord, timeoutSec: number) => runExecSync((req) => rt.execSync(c, req, log), ['x'], timeoutSec);

describe('runc pod ExecSync', () => {
  test('exit code, stdout and stderr apart', async () => {
    await expect(execSync(container('echo out; echo err >&2; exit 3'), 10)).resolves.toEqual({ stdout: Buffer.from('out\n'), stderr: Buffer.from('err\n'), exitCode: 3 });
  });

  test('timeout: DEADLINE_EXCEEDED once the command is killed (its exit closes the pipes)', async () => {
    const c = container('exec sleep 30'); // the pid file names sleep itself, as runc's names the exec'd process
    const t0 = Date.now();
    await expect(execSync(c, 1)).rejects.toMatchObject({ kind: 'deadline-exceeded' });
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  test('an int64-max timeout lets the command finish', async () => {
    await expect(execSync(container('sleep 0.2; echo done'), Number('9223372036854775807'))).resolves.toMatchObject({ stdout: Buffer.from('done\n'), exitCode: 0 });
  });

  test('output capped at EXEC_SYNC_OUTPUT_CAP', async () => {
    const r = await execSync(container('head -c 20000000 /dev/zero'), 30);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.length).toBe(EXEC_SYNC_OUTPUT_CAP);
  });
});
