import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IDMAP_HELPER, probeUserNamespaceSupport, runcVersion } from './user-namespace-support.js';
import { resolveRuntimePath } from './bundled-runtime.js';

const dir = mkdtempSync(join(tmpdir(), 'bulkhead-userns-support-'));
const exe = (name: string) => {
  writeFileSync(join(dir, name), '#!/bin/sh\n');
  chmodSync(join(dir, name), 0o755);
  return join(dir, name);
};
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RUNC_153 = 'runc version 1.5.3\ncommit: module-proxy\nspec: 1.3.0\ngo: go1.26.8\nlibseccomp: 2.5.4\n';
const RUNC_115 = 'runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\n';

describe('runcVersion', () => {
  it('reads major.minor from `runc --version`', () => {
    expect(runcVersion(RUNC_153)).toEqual([1, 5]);
    expect(runcVersion(RUNC_115)).toEqual([1, 1]);
    expect(runcVersion('crun version 1.8.1\n')).toBeUndefined();
  });
});

describe('probeUserNamespaceSupport', () => {
  const runc = exe('runc');
  it('runc >= 1.2 with the idmap helper beside it: supported', () => {
    exe(IDMAP_HELPER);
    expect(probeUserNamespaceSupport(runc, () => RUNC_153)).toEqual({ idmapHelper: join(dir, IDMAP_HELPER) });
  });
  it("Debian 12's runc 1.1.5: unsupported, and says what to install", () => {
    expect(probeUserNamespaceSupport(runc, () => RUNC_115)).toEqual({ unsupported: expect.stringMatching(/runc 1\.1 .* need runc >= 1\.2; deploy\/install\.sh/) });
  });
  it('crun: unsupported without asking it', () => {
    let asked = false;
    const r = probeUserNamespaceSupport('/usr/bin/crun', () => ((asked = true), 'crun version 1.8.1'));
    expect(r).toEqual({ unsupported: expect.stringMatching(/crun: .* runc >= 1\.2 handlers only/) });
    expect(asked).toBe(false);
  });
  it('a runtime whose --version fails or names no version: unsupported', () => {
    expect('unsupported' in probeUserNamespaceSupport(runc, () => { throw new Error('boom'); })).toBe(true);
    expect('unsupported' in probeUserNamespaceSupport(runc, () => 'something else')).toBe(true);
  });
});

describe('resolveRuntimePath', () => {
  it('a bare name prefers the bundled bin dir, then PATH; a path is taken as is', () => {
    expect(resolveRuntimePath('runc', dir)).toBe(join(dir, 'runc'));
    expect(resolveRuntimePath('sh', dir)).toMatch(/\/sh$/);
    expect(resolveRuntimePath(join(dir, 'runc'), '/nonexistent')).toBe(join(dir, 'runc'));
    expect(resolveRuntimePath('no-such-runtime-xyz', dir)).toBeUndefined();
  });
});
