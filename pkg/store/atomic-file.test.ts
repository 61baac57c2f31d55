import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { readJson, readJsonSync, writeFileAtomic, writeFileAtomicSync, writeJsonAtomic } from './atomic-file.js';

describe('atomic file writes', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('create and replace (sync and async) leave only the final file, with its mode', async () => {
    dir = mkdtempSync(join(tmpdir(), 'bh-atomic-'));
    const f = join(dir, 'sub', 'r.json');
    writeFileAtomicSync(f, 'one', 0o600); // creates sub/ and the name: directory fsynced
    writeFileAtomicSync(f, 'two', 0o600); // replaces: no directory fsync needed
    expect(readFileSync(f, 'utf8')).toBe('two');
    await writeFileAtomic(f, 'three', 0o644);
    expect(readFileSync(f, 'utf8')).toBe('three');
    expect(statSync(f).mode & 0o777).toBe(0o644);
    await writeJsonAtomic(join(dir, 'new.json'), { a: 1 });
    expect(await readJson(join(dir, 'new.json'))).toEqual({ a: 1 });
    expect(readJsonSync(join(dir, 'missing.json'))).toBeUndefined();
    expect(readdirSync(join(dir, 'sub'))).toEqual(['r.json']); // no temp file left
  });
});
