import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { vmProcessAlive, vmPaths } from './micro-vm.js';

describe('vmProcessAlive', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const stateDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'bhk-vmalive-'));
    dirs.push(d);
    return d;
  };

  it('is false without a pidfile', () => {
    expect(vmProcessAlive(stateDir())).toBe(false);
  });

  it('is true only while the process naming the pidfile runs', async () => {
    const dir = stateDir();
    const { pidFile } = vmPaths(dir);
    // Stands in for QEMU: a process whose argv contains "-pidfile <path>".
    const child = spawn('sleep', ['30']);
    const fake = spawn('sh', ['-c', 'sleep 30', 'qemu', '-pidfile', pidFile]);
    writeFileSync(pidFile, `${fake.pid}\n`);
    expect(vmProcessAlive(dir)).toBe(true);
    // a reused pid (a process that does not name the pidfile) does not count
    writeFileSync(pidFile, `${child.pid}\n`);
    expect(vmProcessAlive(dir)).toBe(false);
    writeFileSync(pidFile, `${fake.pid}\n`);
    fake.kill('SIGKILL');
    child.kill('SIGKILL');
    await new Promise((r) => fake.once('exit', r));
    expect(vmProcessAlive(dir)).toBe(false);
  });
});
