import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readVmSize, sizeFromQemuArgv, writeVmSize } from './vm-size-record.js';

describe('VM size record', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('round-trips through the VM dir', () => {
    const d = mkdtempSync(join(tmpdir(), 'vmsize-'));
    dirs.push(d);
    expect(readVmSize(d)).toBeUndefined();
    writeVmSize(d, { vcpus: 2, memoryMib: 556 });
    expect(readVmSize(d)).toEqual({ vcpus: 2, memoryMib: 556 });
  });

  it('reads -m and -smp back from a QEMU argv (VMs booted before the record)', () => {
    expect(sizeFromQemuArgv(['qemu', '-name', 'x', '-m', '384', '-smp', '2', '-M', 'microvm'])).toEqual({ vcpus: 2, memoryMib: 384 });
    expect(sizeFromQemuArgv(['qemu', '-m', '384'])).toBeUndefined();
    expect(sizeFromQemuArgv(['qemu', '-m', '384M', '-smp', '2'])).toBeUndefined();
  });
});
