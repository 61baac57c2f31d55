// A VM handler whose kernel_params would override Bulkhead's own cmdline keys or boot path is
// unavailable (its pods fail FAILED_PRECONDITION naming the word); a valid one leaves it usable.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { VmPodRuntime } from './vm-runtime.js';

const dir = mkdtempSync(join(tmpdir(), 'bulkhead-kparams-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const runtime = (kernel_params: string): VmPodRuntime =>
  new VmPodRuntime({
    handler: 'microvm',
    config: { kind: 'vm', qemu_path: 'qemu-system-x86_64', accelerator: 'tcg', memory_mib: 128, vcpus: 1, pool_size: 0, tcg_tb_size_mib: 64, start_from: 'boot', kernel_params },
    rootDir: dir,
    stateDir: dir,
    log: pino({ level: 'silent' }),
  });

describe('vm handler kernel_params', () => {
  it('a word overriding the boot path makes the handler unavailable, saying which', () => {
    expect(runtime('bulkhead.hostile=flood rdinit=/bin/sh').info().unavailable).toMatch(/kernel_params word "rdinit=\/bin\/sh" would change the guest's boot path/);
    expect(runtime('panic=0').info().unavailable).toMatch(/overrides Bulkhead's own "panic"/);
  });

  it('valid words leave it available', () => {
    expect(runtime('bulkhead.hostile=flood loglevel=7').info().unavailable).toBeUndefined();
  });
});
