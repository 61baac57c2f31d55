// Templates on disk: a saved size is reused, sizes past the cap boot instead of making another.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { MAX_TEMPLATES_PER_BASE, templateBaseHash, templateKey, VmTemplates, type TemplateBase } from './vm-template.js';

const base: TemplateBase = { machine: 'microvm', guestStamp: 'g1', qemuVersion: '10.0.2', accel: 'tcg', vcpus: 1, tcgTbSizeMib: 64, kernel: '/k', kernelParams: [] };

function saved(dir: string, memoryMib: number): void {
  const key = templateKey(templateBaseHash(base), memoryMib);
  mkdirSync(join(dir, key), { recursive: true });
  writeFileSync(join(dir, key, 'state'), '');
  writeFileSync(join(dir, key, 'meta.json'), JSON.stringify({ key, memoryMib }));
}

describe('VmTemplates', () => {
  const noBoot = () => Promise.reject(new Error('must not boot'));

  it('reuses a saved size without booting', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmt-'));
    saved(dir, 256);
    const t = await new VmTemplates(dir, join(dir, 'run'), noBoot, pino({ level: 'silent' })).get(base, 256);
    expect(t?.meta.memoryMib).toBe(256);
    expect(t?.stateFile).toBe(join(dir, templateKey(templateBaseHash(base), 256), 'state'));
  });

  it(`makes no template past ${MAX_TEMPLATES_PER_BASE} sizes of one base (that VM boots)`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmt-'));
    for (let i = 0; i < MAX_TEMPLATES_PER_BASE; i++) saved(dir, 256 + i * 64);
    // A template of another base does not count against this one's sizes.
    mkdirSync(join(dir, 'otherbase-256m'));
    const templates = new VmTemplates(dir, join(dir, 'run'), noBoot, pino({ level: 'silent' }));
    await expect(templates.get(base, 1024)).resolves.toBeUndefined();
    await expect(templates.get(base, 256 + 64)).resolves.toBeDefined();
  });
});
