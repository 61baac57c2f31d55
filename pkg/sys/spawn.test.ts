import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { spawnProcess, type SpawnedProcess } from './spawn.js';

const closed = (c: SpawnedProcess): Promise<[number | null, NodeJS.Signals | null]> => new Promise((res) => c.on('close', (code, sig) => res([code, sig])));
const collect = (s: NodeJS.ReadableStream | null): Promise<string> =>
  new Promise((res) => {
    let out = '';
    s!.on('data', (d: Buffer) => (out += d.toString()));
    s!.on('end', () => res(out));
  });

describe('spawnProcess (posix_spawn, no fork of the daemon)', () => {
  test('pipes stdin, stdout and stderr; exit code; close after the output ends', async () => {
    const c = spawnProcess('/bin/sh', ['-c', 'echo out; echo err >&2; read x; echo "got $x"; exit 3'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out = collect(c.stdout);
    const err = collect(c.stderr);
    c.stdin!.end('hello\n');
    expect(await closed(c)).toEqual([3, null]);
    expect(await out).toBe('out\ngot hello\n');
    expect(await err).toBe('err\n');
    expect(c.exitCode).toBe(3);
  });

  test('kill: the exit carries the signal; after the reap kill() is refused', async () => {
    const c = spawnProcess('/bin/sleep', ['30']);
    const exit = new Promise((res) => c.on('exit', (code, sig) => res([code, sig])));
    // The spawn runs off the event loop: a kill before the pid is known is sent once it is.
    expect(c.pid).toBeUndefined();
    expect(c.kill('SIGKILL')).toBe(true);
    expect(await c.ready).toBeGreaterThan(0);
    await expect(c.ready).resolves.toBe(c.pid);
    expect(await exit).toEqual([null, 'SIGKILL']);
    expect(c.kill('SIGTERM')).toBe(false);
  });

  test('a missing binary is an error event with ENOENT, like child_process', async () => {
    const c = spawnProcess('/nonexistent/tool', []);
    const e = await new Promise<NodeJS.ErrnoException>((res) => c.on('error', res));
    expect(e.code).toBe('ENOENT');
    expect(c.pid).toBeUndefined();
    expect(await c.ready).toBeUndefined();
  });

  test('cwd, env (whole), an fd of ours as child fd 3, and default signal dispositions', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bh-spawn-'));
    try {
      const fd = openSync(join(dir, 'three'), 'w');
      // Node ignores SIGPIPE; the child must not inherit that ("SigIgn" mask bit 13 clear).
      const c = spawnProcess('/bin/sh', ['-c', 'pwd; echo "A=$A HOME=${HOME-unset}"; grep SigIgn /proc/self/status; echo three >&3'], { stdio: ['ignore', 'pipe', 'ignore', fd], cwd: dir, env: { A: '1', PATH: '/usr/bin:/bin' } });
      closeSync(fd);
      const out = collect(c.stdout);
      await closed(c);
      const lines = (await out).split('\n');
      expect(lines[0]).toBe(dir);
      expect(lines[1]).toBe('A=1 HOME=unset');
      const ignored = BigInt(`0x${lines[2]!.split(/\s+/)[1]}`);
      expect(ignored & (1n << 12n)).toBe(0n); // SIGPIPE is signal 13 → bit 12
      expect(readFileSync(join(dir, 'three'), 'utf8')).toBe('three\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('detached: the child leads a session of its own', async () => {
    const c = spawnProcess('/bin/sh', ['-c', 'cut -d" " -f6 /proc/self/stat; echo $$'], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
    const [sid, pid] = (await collect(c.stdout)).trim().split('\n');
    expect(sid).toBe(pid);
  });

  test('many at once, mixed with child_process children: every exit is seen once', async () => {
    const ours = Array.from({ length: 40 }, (_, i) => spawnProcess('/bin/sh', ['-c', `exit ${i % 7}`]));
    const theirs = Array.from({ length: 10 }, () => spawn('/bin/true'));
    // Every listener before the first await: a child_process child that exits meanwhile emits 'exit' only once.
    const ourCodes = Promise.all(ours.map((c) => new Promise<number | null>((res) => c.on('exit', (code) => res(code)))));
    const theirCodes = Promise.all(theirs.map((c) => new Promise((res) => c.on('exit', (code) => res(code)))));
    expect(await ourCodes).toEqual(ours.map((_, i) => i % 7));
    expect(await theirCodes).toEqual(theirs.map(() => 0));
  });
});
