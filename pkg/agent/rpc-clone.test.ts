import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cloneRpcs } from './rpc-clone.js';
import type { StreamContext } from './rpc.js';

const dir = mkdtempSync(join(tmpdir(), 'bulkhead-clone-'));
const fixup = join(dir, 'fixup');
// Stands in for deploy/guest/clone-fixup.c: records its argv and the stdin byte count.
writeFileSync(fixup, `#!/bin/sh\necho "$@" > ${dir}/argv\nwc -c > ${dir}/stdin\n`);
chmodSync(fixup, 0o755);
const rpcs = cloneRpcs(fixup);
const ctx = {} as StreamContext;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('clone fix-up RPCs', () => {
  it('reseed_random hands the entropy to the helper on stdin', async () => {
    await rpcs.reseed_random({ entropy: Buffer.alloc(64, 7), set_time_unix_ns: '0' }, ctx);
    expect(readFileSync(join(dir, 'argv'), 'utf8').trim()).toBe('reseed');
    expect(readFileSync(join(dir, 'stdin'), 'utf8').trim()).toBe('64');
  });
  it('reseed_random refuses too little or too much entropy', async () => {
    await expect(rpcs.reseed_random({ entropy: Buffer.alloc(16), set_time_unix_ns: '0' }, ctx)).rejects.toThrow(/want 32\.\.512/);
    await expect(rpcs.reseed_random({ entropy: Buffer.alloc(513), set_time_unix_ns: '0' }, ctx)).rejects.toThrow(/want 32\.\.512/);
  });
  it('reseed_random with set_time_unix_ns sets the clock in the same helper run', async () => {
    await rpcs.reseed_random({ entropy: Buffer.alloc(64, 7), set_time_unix_ns: '1796453057000000000' }, ctx);
    expect(readFileSync(join(dir, 'argv'), 'utf8').trim()).toBe('reseed settime 1796453057000000000');
    expect(readFileSync(join(dir, 'stdin'), 'utf8').trim()).toBe('64');
    await expect(rpcs.reseed_random({ entropy: Buffer.alloc(64), set_time_unix_ns: '12x' }, ctx)).rejects.toThrow(/bad time/);
  });
  it('set_guest_time passes the time in ns, and refuses a non-number', async () => {
    await rpcs.set_guest_time({ unix_ns: '1796453057000000000' }, ctx);
    expect(readFileSync(join(dir, 'argv'), 'utf8').trim()).toBe('settime 1796453057000000000');
    await expect(rpcs.set_guest_time({ unix_ns: '-1' }, ctx)).rejects.toThrow(/bad time/);
  });
});
