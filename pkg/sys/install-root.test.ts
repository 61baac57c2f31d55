import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { distPath, installRoot } from './install-root.js';

const top = mkdtempSync(join(tmpdir(), 'bh-install-root-'));
afterAll(() => rmSync(top, { recursive: true, force: true }));

describe('installRoot', () => {
  it('is the parent of dist/ for the bundle and for a per-module file alike', () => {
    mkdirSync(join(top, 'dist', 'cmd', 'bulkheadd'), { recursive: true });
    mkdirSync(join(top, 'dist', 'pkg', 'runtime', 'oci'), { recursive: true });
    writeFileSync(join(top, 'package.json'), '{}');
    expect(installRoot(pathToFileURL(join(top, 'dist', 'cmd', 'bulkheadd', 'main.js')).href)).toBe(top);
    expect(installRoot(pathToFileURL(join(top, 'dist', 'pkg', 'runtime', 'oci', 'bundled-runtime.js')).href)).toBe(top);
    expect(distPath('pkg/image/layer-worker.js', pathToFileURL(join(top, 'dist', 'cmd', 'bulkheadd', 'main.js')).href)).toBe(join(top, 'dist', 'pkg', 'image', 'layer-worker.js'));
  });

  it('is the checkout (the directory with package.json) when running from the TypeScript sources', () => {
    expect(installRoot()).toBe(join(import.meta.dirname, '..', '..'));
  });
});
