// deploy/config.example.toml documents every config key with its default: it must parse, equal
// the embedded defaults, and name every key the schema produces (so a new key gets documented).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfigText, validateConfig } from './load.js';

const examplePath = fileURLToPath(new URL('../../deploy/config.example.toml', import.meta.url));
const text = readFileSync(examplePath, 'utf8');

/** Dotted paths of every leaf (arrays count as leaves). */
function leafPaths(v: unknown, prefix = ''): string[] {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return [prefix];
  return Object.entries(v as Record<string, unknown>).flatMap(([k, x]) => leafPaths(x, prefix ? `${prefix}.${k}` : k));
}

describe('deploy/config.example.toml', () => {
  it('is a valid config equal to the embedded defaults', () => {
    expect(validateConfig(parseConfigText(text, examplePath))).toEqual(validateConfig({}));
  });

  it('names every key the schema has a default for', () => {
    const documented = new Set(leafPaths(parseConfigText(text, examplePath)));
    const missing = leafPaths(validateConfig({})).filter((p) => !documented.has(p));
    expect(missing, 'keys to add to deploy/config.example.toml (and README.md)').toEqual([]);
  });

  it('mentions the optional keys that have no default', () => {
    for (const key of ['runtime_root', 'kernel_path', 'conf_template', 'kernel_params']) expect(text).toMatch(new RegExp(`^# ${key} = `, 'm'));
  });

  it('stays valid with every setting commented out (what deploy/install.sh writes)', () => {
    const commented = text.replace(/^(?!#|\s*$)/gm, '# ');
    expect(validateConfig(parseConfigText(commented))).toEqual(validateConfig({}));
  });
});
