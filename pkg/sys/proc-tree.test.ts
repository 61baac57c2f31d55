import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { processTree } from './proc.js';

describe('processTree', () => {
  const proc = mkdtempSync(join(tmpdir(), 'proc-'));
  afterAll(() => rmSync(proc, { recursive: true, force: true }));
  const task = (pid: number, ppid: number, comm = 'x'): void => {
    mkdirSync(join(proc, String(pid)));
    // comm with spaces and a ')' must not shift the ppid field
    writeFileSync(join(proc, String(pid), 'stat'), `${pid} (${comm}) S ${ppid} ${pid} ${pid} 0 -1`);
  };
  task(10, 1, 'virtiofsd');
  task(11, 10, 'a b) c');
  task(12, 11);
  task(20, 1, 'qemu');
  mkdirSync(join(proc, 'self'));

  it('lists the process and every descendant, nothing else', () => {
    expect(processTree(10, proc).sort()).toEqual([10, 11, 12]);
    expect(processTree(20, proc)).toEqual([20]);
  });

  it('finds the current process on the real /proc', () => {
    expect(processTree(process.pid)).toContain(process.pid);
  });
});
