// A runc container's OOMKilled verdict when the systemd driver's scope is already gone at exit:
// the OomLedger's pod-slice count decides, and the verdict is kept as the bundle's oom marker.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OomLedger } from '../../cgroups/oom-ledger.js';
import type { ContainerRecord } from '../../store/records.js';
import { ExitWatcher } from './exit-watcher.js';
import { OciPodRuntime } from './oci-runtime.js';
import pino from 'pino';

const dir = mkdtempSync(join(tmpdir(), 'bulkhead-oci-oom-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const POD = '/sys/fs/cgroup/bulkhead.slice/bulkhead-pod1.slice';
const kills = new Map<string, number>([[POD, 0]]);
const ledger = new OomLedger((d) => kills.get(d));
const rt = new OciPodRuntime({
  log: pino({ level: 'silent' }),
  handler: 'runc',
  config: { kind: 'oci', runtime_path: '/bin/true', monitor_path: 'conmon' },
  stateDir: dir,
  exitWatcher: new ExitWatcher(join(dir, 'exits')),
  hostOomScoreAdjMin: 0,
  oomLedger: ledger,
}).tasks;

function container(id: string): ContainerRecord {
  const bundleDir = join(dir, 'bundles', id);
  mkdirSync(bundleDir, { recursive: true });
  // the scope the ledger knows (as createContainer tracks it between create and start)
  kills.set(`${POD}/bulkhead-${id}.scope`, 0);
  ledger.track(id, `${POD}/bulkhead-${id}.scope`);
  return { id, bundleDir, pid: 0, conmonPid: 0, state: 'CONTAINER_RUNNING', cgroupsPath: `bulkhead-pod1.slice:bulkhead:${id}` } as unknown as ContainerRecord;
}

function exitAfterScopeRemoved(id: string, oom: boolean): void {
  if (oom) for (const d of [POD, `${POD}/bulkhead-${id}.scope`]) kills.set(d, (kills.get(d) ?? 0) + 1);
  kills.delete(`${POD}/bulkhead-${id}.scope`); // systemd removed the emptied scope
  mkdirSync(join(dir, 'exits'), { recursive: true });
  writeFileSync(join(dir, 'exits', id), '137');
}

describe('runc container OOM verdict with the scope gone', () => {
  it('OOMKilled from the pod slice count, kept in the marker after the ledger forgets', async () => {
    const c = container('oomed');
    const sibling = container('stopped');
    exitAfterScopeRemoved('oomed', true);
    const st = await rt.containerState(c);
    expect(st).toMatchObject({ status: 'exited', exitCode: 137, oomKilled: true });
    expect(readFileSync(join(c.bundleDir, 'oom'), 'utf8')).toMatch(/counted in the pod cgroup/);
    ledger.forget('oomed');
    expect((await rt.containerState(c)).oomKilled).toBe(true);

    // its sibling, SIGKILLed by a stop: not OOMKilled
    exitAfterScopeRemoved('stopped', false);
    expect((await rt.containerState(sibling)).oomKilled).toBe(false);
  });
});
