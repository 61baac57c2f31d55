import { describe, expect, test } from 'vitest';
import { ConfigError, configProblems, parseConfigText, validateConfig } from './load.js';

function problemsOf(toml: string): string[] {
  try {
    validateConfig(parseConfigText(toml));
    return [];
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
}

describe('config validation', () => {
  test('three mistakes give three precise errors, each with its key path', () => {
    const problems = problemsOf(`
log_levl = "debug"          # unknown key (typo)
[registry]
max_concurrent_downloads = "four"   # wrong type
[runtime_handlers.microvm]
kind = "vm"
accelerator = "hvf"         # bad enum
`);
    expect(problems).toHaveLength(3);
    expect(problems).toContainEqual('log_levl: unknown key (did you mean "log_level"?)');
    expect(problems).toContainEqual('registry.max_concurrent_downloads: Expected number, received string');
    expect(problems.find((p) => p.startsWith('runtime_handlers.microvm.accelerator: '))).toMatch(/'auto' \| 'kvm' \| 'tcg', received 'hvf'/);
  });

  test('unknown keys inside a handler are resolved against its kind', () => {
    expect(configProblems({ runtime_handlers: { runc: { kind: 'oci', runtime_pth: 'runc' } }, default_runtime_handler: 'runc' })).toEqual([
      'runtime_handlers.runc.runtime_pth: unknown key (did you mean "runtime_path"?)',
    ]);
  });

  test('several unknown keys in one table are reported one per line; no wild suggestions', () => {
    expect(configProblems({ cni: { conf_dri: '/x', zzzzzzzz: 1 } })).toEqual(['cni.conf_dri: unknown key (did you mean "conf_dir"?)', 'cni.zzzzzzzz: unknown key']);
  });

  test('metrics.address must be host:port or empty', () => {
    expect(validateConfig({ metrics: { address: '127.0.0.1:9090' } }).metrics.address).toBe('127.0.0.1:9090');
    expect(validateConfig({ metrics: { address: ':9090' } }).metrics.address).toBe(':9090');
    expect(validateConfig({}).metrics.address).toBe('');
    expect(configProblems({ metrics: { address: '9090' } })).toHaveLength(1);
  });

  test('a TOML syntax error is one problem naming the source', () => {
    expect(() => parseConfigText('a = = 1', 'x.toml')).toThrow(/x\.toml: /);
  });

  test('defaults are valid', () => {
    expect(configProblems({})).toEqual([]);
  });
});
