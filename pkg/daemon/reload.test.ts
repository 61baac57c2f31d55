import { describe, expect, test } from 'vitest';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { validateConfig, ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { diffConfig, keyMatches, ReloadRegistry, Reloader } from './reload.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    }),
  );
  return { log, lines };
}

describe('config reload', () => {
  test('keyMatches: exact, * segment, trailing .* prefix', () => {
    expect(keyMatches('log_level', 'log_level')).toBe(true);
    expect(keyMatches('runtime_handlers.*.pool_size', 'runtime_handlers.microvm.pool_size')).toBe(true);
    expect(keyMatches('runtime_handlers.*.pool_size', 'runtime_handlers.microvm.vcpus')).toBe(false);
    expect(keyMatches('registry.*', 'registry.config_path')).toBe(true);
    expect(keyMatches('registry.*', 'registry')).toBe(false);
    expect(keyMatches('registry.*', 'root')).toBe(false);
  });

  test('diffConfig lists changed leaves, added handlers and arrays as one leaf', () => {
    const a = validateConfig({});
    const b = validateConfig({ cni: { bin_dirs: ['/x'] }, runtime_handlers: { ...a.runtime_handlers, kata: { kind: 'vm' } } });
    expect(diffConfig(a, b)).toEqual([
      'cni.bin_dirs',
      'runtime_handlers.kata.accelerator',
      'runtime_handlers.kata.kind',
      'runtime_handlers.kata.memory_mib',
      'runtime_handlers.kata.pool_size',
      'runtime_handlers.kata.qemu_path',
      'runtime_handlers.kata.start_from',
      'runtime_handlers.kata.tcg_tb_size_mib',
      'runtime_handlers.kata.vcpus',
    ]);
  });

  test('applies hooked keys, reports the rest as needing a restart, keeps them out of the config in effect', async () => {
    const { log, lines } = capture();
    let file: unknown = {};
    const registry = new ReloadRegistry();
    const seen: string[][] = [];
    let registryReloads = 0;
    registry.register({ name: 'log', keys: ['log_level'], apply: (n) => void (log.level = n.log_level) });
    registry.register({ name: 'registry', keys: ['registry.*'], always: true, apply: () => void registryReloads++ });
    registry.register({ name: 'pool', keys: ['runtime_handlers.*.pool_size'], apply: (_n, _p, changed) => void seen.push(changed) });
    const r = new Reloader({ registry, log, initial: validateConfig(file), load: () => validateConfig(file) });

    file = {
      log_level: 'debug',
      root: '/elsewhere',
      runtime_handlers: { ...validateConfig({}).runtime_handlers, microvm: { kind: 'vm', pool_size: 2 } },
    };
    const res = await r.reload();
    expect(res).toMatchObject({ ok: true, applied: ['log_level', 'runtime_handlers.microvm.pool_size'], needsRestart: ['root'], errors: [] });
    expect(log.level).toBe('debug');
    expect(seen).toEqual([['runtime_handlers.microvm.pool_size']]);
    expect(registryReloads).toBe(1);
    expect(r.current.log_level).toBe('debug');
    expect(r.current.root).toBe('/var/lib/bulkhead');
    expect((r.current.runtime_handlers.microvm as Config['runtime_handlers'][string] & { pool_size: number }).pool_size).toBe(2);
    expect(lines.find((l) => l.msg === 'config reloaded')).toMatchObject({ changed: ['log_level', 'runtime_handlers.microvm.pool_size'], needs_restart: ['root'] });
    expect(lines.find((l) => l.msg === 'config key root changed: needs a restart')).toMatchObject({ running: '/var/lib/bulkhead', file: '/elsewhere' });
    const info = await r.statusSource().info!();
    expect(JSON.parse(info.config!).log_level).toBe('debug');
    expect(JSON.parse(info.reload!).pending_restart).toEqual(['root']);

    // Nothing changed: the "always" hook still runs (re-read hosts files), nothing is listed.
    expect(await r.reload()).toMatchObject({ applied: [], needsRestart: ['root'] });
    expect(registryReloads).toBe(2);
  });

  test('an invalid new file keeps the old config and logs every error', async () => {
    const { log, lines } = capture();
    let bad = false;
    const registry = new ReloadRegistry();
    registry.register({ name: 'log', keys: ['log_level'], apply: (n) => void (log.level = n.log_level) });
    const r = new Reloader({
      registry,
      log,
      initial: validateConfig({}),
      load: () => (bad ? validateConfig({ log_level: 'loud', nope: 1 }) : validateConfig({})),
    });
    bad = true;
    const res = await r.reload();
    expect(res.ok).toBe(false);
    expect(res.errors).toHaveLength(2);
    expect(log.level).toBe('info');
    expect(lines.find((l) => String(l.msg).startsWith('config reload rejected'))).toMatchObject({ errors: res.errors });
    expect(() => validateConfig({ nope: 1 })).toThrow(ConfigError);
  });

  test('a failing hook keeps the old value of its keys', async () => {
    const { log } = capture();
    const registry = new ReloadRegistry();
    registry.register({ name: 'pool', keys: ['runtime_handlers.*.pool_size'], apply: () => Promise.reject(new Error('boom')) });
    const next = { runtime_handlers: { ...validateConfig({}).runtime_handlers, microvm: { kind: 'vm', pool_size: 3 } } };
    const r = new Reloader({ registry, log, initial: validateConfig({}), load: () => validateConfig(next) });
    const res = await r.reload();
    expect(res).toMatchObject({ ok: false, failed: ['runtime_handlers.microvm.pool_size'], applied: [] });
    expect(diffConfig(r.current, validateConfig({}))).toEqual([]);
  });
});
