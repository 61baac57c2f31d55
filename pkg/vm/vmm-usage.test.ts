import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { vmmUsage } from './vmm-usage.js';

describe('vmmUsage', () => {
  const proc = mkdtempSync(join(tmpdir(), 'vmm-proc-'));
  afterAll(() => rmSync(proc, { recursive: true, force: true }));
  const fake = (pid: number, state: string, utime: number, stime: number, files: Record<string, string>): void => {
    mkdirSync(join(proc, String(pid)));
    // comm with a space and ')' (a QEMU -name with debug-threads off is "qemu-system-x86")
    const rest = [state, 1, pid, pid, 0, -1, 4194560, 0, 0, 0, 0, utime, stime, 0, 0, 20, 0, 1, 0, 100].join(' ');
    writeFileSync(join(proc, String(pid), 'stat'), `${pid} (a b) c) ${rest}`);
    for (const [n, t] of Object.entries(files)) writeFileSync(join(proc, String(pid), n), t);
  };
  fake(100, 'S', 250, 50, { smaps_rollup: 'Rss:  500000 kB\nPss:  400000 kB\n', status: 'VmRSS:\t500000 kB\n' });
  fake(101, 'S', 1, 2, { status: 'Name:\tvirtiofsd\nVmRSS:\t3000 kB\n' });
  fake(102, 'Z', 99, 99, { status: 'VmRSS:\t1 kB\n' });

  it('sums CPU ticks and PSS (RSS as fallback) of live processes', () => {
    const u = vmmUsage([100, 101, 102, 103, 0], proc);
    expect(u.processes).toBe(2);
    expect(u.cpuNs).toBe(303n * 10_000_000n);
    expect(u.memoryBytes).toBe((400000 + 3000) * 1024);
  });

  it('counts a pid given twice once', () => {
    expect(vmmUsage([100, 100], proc).processes).toBe(1);
  });

  it('reads the real /proc', () => {
    const u = vmmUsage([process.pid]);
    expect(u.processes).toBe(1);
    expect(u.memoryBytes).toBeGreaterThan(1 << 20);
  });
});
