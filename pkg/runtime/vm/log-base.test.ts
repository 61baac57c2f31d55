import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readLogBase, writeLogBase } from './log-base.js';

describe('log base after ReopenContainerLog', () => {
  const d = mkdtempSync(join(tmpdir(), 'logbase-'));
  afterAll(() => rmSync(d, { recursive: true, force: true }));
  it('is 0 before any reopen, then the offset recorded', () => {
    expect(readLogBase(d)).toBe(0);
    writeLogBase(d, 123456);
    expect(readLogBase(d)).toBe(123456);
  });
  it('treats garbage as 0', () => {
    writeFileSync(join(d, 'log-base'), 'x');
    expect(readLogBase(d)).toBe(0);
  });
});
