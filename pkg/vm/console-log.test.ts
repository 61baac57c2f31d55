import { afterEach, describe, expect, it } from 'vitest';
import { appendFileSync, existsSync, mkdtempSync, rmSync, statSync, openSync, writeSync, closeSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleLog, readFileTail } from './console-log.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'bh-console-'));
  dirs.push(d);
  return d;
}

describe('ConsoleLog', () => {
  it('reads only a bounded tail', () => {
    const p = join(tmp(), 'console.log');
    appendFileSync(p, 'a'.repeat(100) + 'END');
    expect(readFileTail(p, 3).toString()).toBe('END');
    expect(readFileTail(p, 1000).length).toBe(103);
    expect(readFileTail(join(tmp(), 'missing'), 10).length).toBe(0);
  });

  it('cuts the log past its limit, keeps the last bytes in .1, and the writer (O_APPEND) carries on at the new end', async () => {
    const p = join(tmp(), 'console.log');
    // As QEMU opens it with append=on.
    const fd = openSync(p, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND);
    try {
      for (let i = 0; i < 200; i++) writeSync(fd, `line ${i}\n`.padStart(100, '.'));
      const c = new ConsoleLog(p);
      expect(await c.trim(10_000, 1000)).toBe(true);
      expect(statSync(p).size).toBe(0);
      expect(statSync(c.previousPath).size).toBe(1000);
      writeSync(fd, 'after the cut\n');
      expect(statSync(p).size).toBe(14);
      expect(c.tail(200)).toMatch(/line 199\nafter the cut\n$/);
      expect(c.tail(14)).toBe('after the cut\n');
      expect(await c.trim(10_000, 1000)).toBe(false);
    } finally {
      closeSync(fd);
    }
  });

  it('a missing console (VM gone) is not an error', async () => {
    const errors: Error[] = [];
    const c = new ConsoleLog(join(tmp(), 'console.log'), (e) => errors.push(e));
    expect(await c.trim()).toBe(false);
    expect(c.tail(100)).toBe('');
    expect(errors).toEqual([]);
    expect(existsSync(c.previousPath)).toBe(false);
  });
});
