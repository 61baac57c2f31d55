// A container that exits within ms of its start: conmon writes the exit file and exits between
// containerState()'s read of the exit file and its check that conmon is gone. The exit code is
// the file's, not the "no exit file" 255 (upstream conformance: mounttest pods read as failed).
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerRecord } from '../../store/records.js';
import { ExitWatcher, type ExitInfo } from './exit-watcher.js';
import { OciPodRuntime } from './oci-runtime.js';
import { pino } from 'pino';

const dir = mkdtempSync(join(tmpdir(), 'bulkhead-oci-exit-race-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The first read finds nothing, and conmon writes the file right after it. */
class LateExitWatcher extends ExitWatcher {
  reads = 0;
  override async read(id: string): Promise<ExitInfo | undefined> {
    this.reads++;
    if (this.reads === 1) {
      mkdirSync(this.dir, { recursive: true });
      writeFileSync(join(this.dir, id), '0');
      return undefined;
    }
    return super.read(id);
  }
}

function deadPid(): number {
  const r = spawnSync('/bin/true');
  return r.pid!;
}

describe('exit file written as conmon exits', () => {
  it('reports the exit file\'s code, not 255', async () => {
    const exits = new LateExitWatcher(join(dir, 'exits'));
    const rt = new OciPodRuntime({
      log: pino({ level: 'silent' }),
      handler: 'runc',
      config: { kind: 'oci', runtime_path: '/bin/true', monitor_path: 'conmon' },
      stateDir: dir,
      exitWatcher: exits,
      hostOomScoreAdjMin: 0,
    } as ConstructorParameters<typeof OciPodRuntime>[0]).tasks;
    const bundleDir = join(dir, 'bundles', 'quick');
    mkdirSync(bundleDir, { recursive: true });
    const c = { id: 'quick', bundleDir, pid: deadPid(), pidStartTime: 1, conmonPid: deadPid(), state: 'CONTAINER_RUNNING', cgroupsPath: '' } as unknown as ContainerRecord;
    const st = await rt.containerState(c);
    expect(st).toMatchObject({ status: 'exited', exitCode: 0 });
    expect(exits.reads).toBeGreaterThan(1);
  });

  it('still 255 when conmon and the process are gone without an exit file', async () => {
    const rt = new OciPodRuntime({
      log: pino({ level: 'silent' }),
      handler: 'runc',
      config: { kind: 'oci', runtime_path: '/bin/true', monitor_path: 'conmon' },
      stateDir: dir,
      exitWatcher: new ExitWatcher(join(dir, 'exits2')),
      hostOomScoreAdjMin: 0,
    } as ConstructorParameters<typeof OciPodRuntime>[0]).tasks;
    const c = { id: 'lost', bundleDir: join(dir, 'bundles', 'lost'), pid: deadPid(), pidStartTime: 1, conmonPid: deadPid(), state: 'CONTAINER_RUNNING', cgroupsPath: '' } as unknown as ContainerRecord;
    expect(await rt.containerState(c)).toMatchObject({ status: 'exited', exitCode: 255 });
  });
});
