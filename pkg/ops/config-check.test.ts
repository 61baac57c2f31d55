import { afterAll, describe, expect, test } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConfigFile } from './config-check.js';

const dir = mkdtempSync(join(tmpdir(), 'bulkhead-config-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('bulkhead config check', () => {
  test('three mistakes → three errors with key paths', () => {
    const r = checkConfigFile(
      file('bad.toml', 'log_levl = "debug"\n[registry]\nmax_concurrent_downloads = "four"\n[runtime_handlers.microvm]\nkind = "vm"\naccelerator = "hvf"\n'),
    );
    expect(r.ok).toBe(false);
    expect(r.errors.map((e) => e.split(':')[0]).sort()).toEqual(['log_levl', 'registry.max_concurrent_downloads', 'runtime_handlers.microvm.accelerator']);
  });
  test('a valid file (with a custom handler and defaults filled in) is OK', () => {
    const r = checkConfigFile(
      file('good.toml', 'log_level = "debug"\ndefault_runtime_handler = "kata"\n[runtime_handlers.kata]\nkind = "vm"\npool_size = 2\n[metrics]\naddress = "127.0.0.1:9464"\n'),
    );
    expect(r).toEqual({ file: join(dir, 'good.toml'), ok: true, errors: [] });
  });
  test('default_runtime_handler naming an undefined handler', () => {
    const r = checkConfigFile(file('h.toml', 'default_runtime_handler = "nope"\n'));
    expect(r.errors).toEqual(['default_runtime_handler: names handler "nope", which runtime_handlers does not define']);
  });
  test('TOML syntax errors and unreadable files are one error each', () => {
    expect(checkConfigFile(file('syntax.toml', 'root = \n')).errors).toHaveLength(1);
    const missing = checkConfigFile(join(dir, 'absent.toml'));
    expect(missing.ok).toBe(false);
    expect(missing.errors[0]).toMatch(/cannot read: .*ENOENT/);
  });
});
