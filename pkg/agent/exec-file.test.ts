import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runAll, shQuote } from './exec-file.js';

const dir = mkdtempSync(join(tmpdir(), 'bulkhead-runall-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('runAll', () => {
  it('runs the commands in order, each word passed as it is', async () => {
    const out = join(dir, 'out');
    const odd = `it's "x" $HOME \`id\` ; rm -rf /`;
    await runAll([
      ['sh', '-c', 'printf "%s\\n" "$1" >> "$2"', 'sh', odd, out],
      ['sh', '-c', 'printf "%s\\n" second >> "$1"', 'sh', out],
    ]);
    expect(readFileSync(out, 'utf8')).toBe(`${odd}\nsecond\n`);
  });

  it('stops at the first failure and names it, with its stderr', async () => {
    const out = join(dir, 'stop');
    const p = runAll([['sh', '-c', 'echo boom >&2; exit 3'], ['touch', out]]);
    await expect(p).rejects.toThrow(/^sh \(2 commands\): exit 1: boom\nfailed: sh -c echo boom >&2; exit 3$/);
    expect(() => readFileSync(out)).toThrow();
  });

  it('quotes the empty word and quotes themselves', () => {
    expect(shQuote('')).toBe("''");
    expect(shQuote("a'b")).toBe(`'a'\\''b'`);
  });
});
