import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CniConfigError,
  checkPlugins,
  cniArgsPairs,
  cniConfigFileNames,
  findPlugin,
  formatCniArgs,
  loadNetworkConfig,
  parseNetworkConfig,
  pluginEnv,
  pluginStdin,
  versionAtLeast,
} from './cni-config.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bhk-cniconf-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const list = (name: string) => JSON.stringify({ cniVersion: '1.0.0', name, plugins: [{ type: 'bridge', bridge: 'b0' }, { type: 'portmap', capabilities: { portMappings: true } }] });

describe('config selection', () => {
  it('takes the first .conflist/.conf/.json in lexical order, ignoring other files', () => {
    writeFileSync(join(dir, '20-second.conflist'), list('second'));
    writeFileSync(join(dir, '10-first.conflist'), list('first'));
    writeFileSync(join(dir, '05-notes.txt'), 'x');
    writeFileSync(join(dir, '.00-hidden.conf'), '{');
    expect(cniConfigFileNames(dir)).toEqual(['10-first.conflist', '20-second.conflist']);
    const { file, list: l } = loadNetworkConfig(dir);
    expect(file).toBe(join(dir, '10-first.conflist'));
    expect(l.name).toBe('first');
    expect(l.plugins.map((p) => p.type)).toEqual(['bridge', 'portmap']);
  });

  it('wraps a single-plugin .conf as a one-plugin list without name/cniVersion in the plugin', () => {
    writeFileSync(join(dir, '99-single.conf'), JSON.stringify({ cniVersion: '0.4.0', name: 'single', type: 'bridge', bridge: 'x', ipam: { type: 'host-local' } }));
    const { list: l } = loadNetworkConfig(dir);
    expect(l).toEqual({ cniVersion: '0.4.0', name: 'single', plugins: [{ type: 'bridge', bridge: 'x', ipam: { type: 'host-local' } }] });
  });

  it('reports a missing directory or no files as NoConfig', () => {
    expect(() => loadNetworkConfig(join(dir, 'nope'))).toThrow(/no CNI configuration file/);
    try {
      loadNetworkConfig(dir);
    } catch (e) {
      expect((e as CniConfigError).reason).toBe('NoConfig');
    }
  });

  it('rejects invalid configs with the file named', () => {
    const bad: [string, RegExp][] = [
      ['{', /invalid JSON/],
      ['[]', /not a JSON object/],
      [JSON.stringify({ cniVersion: '1.0.0', plugins: [{ type: 'bridge' }] }), /no network "name"/],
      [JSON.stringify({ cniVersion: '1.0.0', name: 'n', plugins: [] }), /"plugins" is empty/],
      [JSON.stringify({ cniVersion: '1.0.0', name: 'n', plugins: [{ bridge: 'x' }] }), /has no "type"/],
      [JSON.stringify({ cniVersion: '1.0.0', name: 'n', plugins: [{ type: '../../bin/sh' }] }), /invalid plugin type/],
    ];
    for (const [text, re] of bad) {
      expect(() => parseNetworkConfig(text, '/x/10-a.conflist')).toThrow(re);
      expect(() => parseNetworkConfig(text, '/x/10-a.conflist')).toThrow(/\/x\/10-a.conflist/);
    }
  });
});

describe('plugin lookup', () => {
  it('finds the first executable in the bin dirs and reports missing ones', () => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    mkdirSync(a);
    mkdirSync(b);
    writeFileSync(join(a, 'bridge'), 'not executable');
    writeFileSync(join(b, 'bridge'), '#!/bin/sh\n');
    chmodSync(join(b, 'bridge'), 0o755);
    writeFileSync(join(b, 'loopback'), '#!/bin/sh\n');
    chmodSync(join(b, 'loopback'), 0o755);
    expect(findPlugin('bridge', [a, b])).toBe(join(b, 'bridge'));
    expect(findPlugin('portmap', [a, b])).toBeUndefined();
    const l = parseNetworkConfig(list('n'), 'x.conflist');
    expect(() => checkPlugins(l, [a, b])).toThrow(/portmap not found in/);
  });
});

describe('invocation', () => {
  it('builds CNI_ARGS like kubelet did', () => {
    const pairs = cniArgsPairs({ podId: 'abc', name: 'web', namespace: 'default', uid: 'u-1' });
    expect(formatCniArgs(pairs)).toBe('IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1');
    expect(() => formatCniArgs([['A', 'x;y']])).toThrow(/cannot be encoded/);
  });

  it('sets the CNI_* environment and drops stale CNI_* variables', () => {
    const env = pluginEnv(
      { command: 'ADD', containerId: 'abc', netns: '/run/ns/net', ifName: 'eth0', cniArgs: 'IgnoreUnknown=1', binDirs: ['/opt/cni/bin', '/usr/lib/cni'] },
      { PATH: '/bin', CNI_IFNAME: 'stale', CNI_FOO: 'x', HOME: '/root' },
    );
    expect(env).toEqual({
      PATH: '/bin',
      HOME: '/root',
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: 'abc',
      CNI_NETNS: '/run/ns/net',
      CNI_IFNAME: 'eth0',
      CNI_ARGS: 'IgnoreUnknown=1',
      CNI_PATH: '/opt/cni/bin:/usr/lib/cni',
    });
  });

  it('gives each plugin name, cniVersion, prevResult and only the capabilities it declares', () => {
    const l = parseNetworkConfig(list('net1'), 'x.conflist');
    const values = { portMappings: [{ hostPort: 80, containerPort: 8080, protocol: 'tcp' }], bandwidth: { ingressRate: 1 } };
    const prev = { cniVersion: '1.0.0', ips: [] };
    expect(pluginStdin(l, l.plugins[0]!, undefined, values)).toEqual({ type: 'bridge', bridge: 'b0', name: 'net1', cniVersion: '1.0.0' });
    expect(pluginStdin(l, l.plugins[1]!, prev, values)).toEqual({
      type: 'portmap',
      capabilities: { portMappings: true },
      name: 'net1',
      cniVersion: '1.0.0',
      prevResult: prev,
      runtimeConfig: { portMappings: values.portMappings },
    });
    // a capability set to false, or with no runtime value, gives no runtimeConfig
    const p = { type: 'x', capabilities: { portMappings: false, dns: true } };
    expect(pluginStdin(l, p, undefined, values).runtimeConfig).toBeUndefined();
  });

  it('compares versions', () => {
    expect(versionAtLeast('1.0.0', '0.4.0')).toBe(true);
    expect(versionAtLeast('0.4.0', '0.4.0')).toBe(true);
    expect(versionAtLeast('0.3.1', '0.4.0')).toBe(false);
    expect(versionAtLeast('0.10.0', '0.4.0')).toBe(true);
  });
});
