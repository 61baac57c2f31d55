import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { checkSandboxLogDirectory, containerLogPath } from './log-paths.js';
import { ContainerManager, type ContainerManagerDeps } from '../container/container-manager.js';
import { SandboxManager } from '../sandbox/sandbox-manager.js';
import { containerConfig, podConfig } from '../oci/test-fixtures.js';
import type { Config } from '../config/schema.js';
import type { PodRuntime } from '../runtime/pod-runtime.js';

const log = pino({ level: 'silent' });
const invalid = expect.objectContaining({ kind: 'invalid-argument' });

describe('log paths', () => {
  it('resolves what kubelet sends', () => {
    expect(containerLogPath('/var/log/pods/ns_pod_uid', 'app/0.log')).toBe('/var/log/pods/ns_pod_uid/app/0.log');
    expect(containerLogPath('/var/log/pods/ns_pod_uid', 'a/../b.log')).toBe('/var/log/pods/ns_pod_uid/b.log');
    expect(containerLogPath('', 'app/0.log')).toBe('');
    expect(containerLogPath('/var/log/pods/x', '')).toBe('');
  });

  it('refuses a log_path that leaves the directory, or is absolute', () => {
    for (const p of ['../x', '..', 'a/../../x', './../x', '/etc/cron.d/x', '.', 'a/..']) {
      expect(() => containerLogPath('/var/log/pods/x', p), p).toThrow(invalid);
    }
  });

  it('refuses a relative log_directory or one with ".."', () => {
    expect(() => checkSandboxLogDirectory('var/log/pods/x')).toThrow(invalid);
    expect(() => checkSandboxLogDirectory('/var/log/pods/../../etc')).toThrow(invalid);
    expect(() => checkSandboxLogDirectory('/var/log/pods/ns_pod_uid')).not.toThrow();
    expect(() => checkSandboxLogDirectory('')).not.toThrow();
  });
});

describe('CRI requests with escaping log paths', () => {
  it('CreateContainer with log_path "../x" is InvalidArgument, and reserves no name', async () => {
    const root = mkdtempSync(join(tmpdir(), 'bulkhead-logpath-'));
    const sb = { id: 'pod1', state: 'SANDBOX_READY', handler: 'runc', config: podConfig({ log_directory: '/var/log/pods/ns_pod_uid' }) };
    const deps = {
      config: { root } as unknown as Config,
      sandboxes: { runtimes: new Map(), get: () => sb, withLock: <T>(_id: string, fn: () => Promise<T>) => fn() },
      images: { resolve: () => undefined },
      log,
    } as unknown as ContainerManagerDeps;
    const cm = new ContainerManager(deps);
    const cfg = containerConfig({ log_path: '../../../../etc/cron.d/x' });
    await expect(cm.create('pod1', cfg, log)).rejects.toThrow(invalid);
    // Same name with a sane path gets past the log check (to the image lookup): nothing was reserved.
    await expect(cm.create('pod1', { ...cfg, log_path: 'app/0.log' }, log)).rejects.toThrow(expect.objectContaining({ kind: 'not-found' }));
  });

  it('RunPodSandbox with a relative log_directory is InvalidArgument', async () => {
    const root = mkdtempSync(join(tmpdir(), 'bulkhead-logdir-'));
    const config = { root, default_runtime_handler: 'runc', runtime_handlers: { runc: { kind: 'oci' } } } as unknown as Config;
    const sm = new SandboxManager(config, new Map([['runc', {} as PodRuntime]]), undefined);
    await expect(sm.run(podConfig({ log_directory: '../../etc' }), '', log)).rejects.toThrow(invalid);
  });
});
