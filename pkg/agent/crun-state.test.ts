import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { crunRunningPid } from './crun-state.js';

const root = mkdtempSync(join(tmpdir(), 'bulkhead-crun-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function status(id: string, body: string): void {
  mkdirSync(join(root, id), { recursive: true });
  writeFileSync(join(root, id, 'status'), body);
}

describe('crunRunningPid', () => {
  it('is the pid once the status file names a live process', () => {
    status('live', JSON.stringify({ pid: process.pid, bundle: '/x' }));
    expect(crunRunningPid(root, 'live')).toBe(process.pid);
  });

  it('is undefined before the status file exists, or while it is half written', () => {
    expect(crunRunningPid(root, 'none')).toBeUndefined();
    status('half', '{"pid": 12');
    expect(crunRunningPid(root, 'half')).toBeUndefined();
    status('odd', JSON.stringify({ pid: 'x' }));
    expect(crunRunningPid(root, 'odd')).toBeUndefined();
  });

  it('is undefined while created (exec.fifo) a zombie, or gone', async () => {
    status('created', JSON.stringify({ pid: process.pid }));
    writeFileSync(join(root, 'created', 'exec.fifo'), '');
    expect(crunRunningPid(root, 'created')).toBeUndefined();

    // A zombie: `sleep 0`'s parent execs `sleep 2`, which never reaps it.
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 2'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const zombie = Number(await new Promise<string>((r) => parent.stdout.once('data', (d: Buffer) => r(d.toString()))));
    await new Promise((r) => setTimeout(r, 200));
    status('zombie', JSON.stringify({ pid: zombie }));
    expect(crunRunningPid(root, 'zombie')).toBeUndefined();
    parent.kill();
    status('gone', JSON.stringify({ pid: 999_999_999 }));
    expect(crunRunningPid(root, 'gone')).toBeUndefined();
  });
});
