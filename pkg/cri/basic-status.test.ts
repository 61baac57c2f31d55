// basicStatusSources: RuntimeReady says whether the default handler's binary is installed.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../config/load.js';
import { basicStatusSources, cniConfigFiles } from './basic-status.js';

const dir = mkdtempSync(join(tmpdir(), 'bh-basic-status-'));

function runtimeReady(runtimePath: string) {
  const config = validateConfig({ root: dir, runtime_handlers: { runc: { kind: 'oci', runtime_path: runtimePath, monitor_path: 'conmon' } } });
  return basicStatusSources(config)[0]!.conditions();
}

describe('basicStatusSources', () => {
  it('ready when the default handler binary exists and is executable', async () => {
    const bin = join(dir, 'runc');
    writeFileSync(bin, '#!/bin/sh\n', { mode: 0o755 });
    expect(await runtimeReady(bin)).toEqual([{ type: 'RuntimeReady', status: true, reason: '', message: '' }]);
  });

  it('RuntimeBinaryMissing otherwise', async () => {
    expect(await runtimeReady(join(dir, 'missing'))).toEqual([expect.objectContaining({ type: 'RuntimeReady', status: false, reason: 'RuntimeBinaryMissing' })]);
  });

  it('cniConfigFiles lists .conf/.conflist/.json, sorted; a missing dir is empty', () => {
    const conf = mkdtempSync(join(dir, 'cni-'));
    for (const f of ['20-b.conflist', '10-a.conf', 'readme.txt', '30-c.json']) writeFileSync(join(conf, f), '{}');
    expect(cniConfigFiles(conf)).toEqual(['10-a.conf', '20-b.conflist', '30-c.json']);
    expect(cniConfigFiles(join(dir, 'nope'))).toEqual([]);
  });
});
