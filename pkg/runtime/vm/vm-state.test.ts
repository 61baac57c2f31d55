import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadPodVmState, podVmDir, savePodVmState, sizeFromQemuArgv } from './vm-state.js';

describe('a pod VM state file', () => {
  const dirs: string[] = [];
  const podDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'vmstate-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('round-trips where the VM lives, its size and how it started', () => {
    const d = podDir();
    savePodVmState(d, { vmDir: '/pool/slot1/vm', size: { vcpus: 2, memoryMib: 556 }, startedFrom: 'pool (boot)' });
    expect(loadPodVmState(d)).toEqual({ vmDir: '/pool/slot1/vm', size: { vcpus: 2, memoryMib: 556 }, startedFrom: 'pool (boot)' });
    expect(podVmDir(d)).toBe('/pool/slot1/vm');
  });

  it('a pod that never saved one: <pod>/vm, no size', () => {
    const d = podDir();
    expect(loadPodVmState(d)).toEqual({ vmDir: join(d, 'vm') });
  });

  it('reads what an older daemon left: the vm-dir pointer and the VM dir size.json', () => {
    const d = podDir();
    const vmDir = join(d, 'slot', 'vm');
    mkdirSync(vmDir, { recursive: true });
    writeFileSync(join(d, 'vm-dir'), vmDir);
    writeFileSync(join(vmDir, 'size.json'), JSON.stringify({ vcpus: 1, memoryMib: 256 }));
    expect(loadPodVmState(d)).toEqual({ vmDir, size: { vcpus: 1, memoryMib: 256 } });
  });

  it('a torn or foreign file falls back instead of throwing', () => {
    const d = podDir();
    writeFileSync(join(d, 'vm.json'), '{"vmDir": 7');
    expect(loadPodVmState(d)).toEqual({ vmDir: join(d, 'vm') });
    writeFileSync(join(d, 'vm.json'), JSON.stringify({ vmDir: '/x', size: { vcpus: 'two', memoryMib: 1 } }));
    expect(loadPodVmState(d)).toEqual({ vmDir: '/x' });
  });

  it('reads -m and -smp back from a QEMU argv (VMs booted before any record)', () => {
    expect(sizeFromQemuArgv(['qemu', '-name', 'x', '-m', '384', '-smp', '2', '-M', 'microvm'])).toEqual({ vcpus: 2, memoryMib: 384 });
    expect(sizeFromQemuArgv(['qemu', '-m', '384'])).toBeUndefined();
    expect(sizeFromQemuArgv(['qemu', '-m', '384M', '-smp', '2'])).toBeUndefined();
  });
});
