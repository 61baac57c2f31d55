// CniNetwork against fake plugins (shell scripts that record their invocations): ordering,
// environment, stdin, cache, cleanup after a failed ADD, DEL retries.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, chmodSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CniNetwork, parseProcNetDev, type PodNetworkRequest } from './cni.js';
import { silentLogger } from '../log/logger.js';

let dir: string;
let bin: string;
let conf: string;
let calls: string;
let net: CniNetwork;

const RESULT = JSON.stringify({
  cniVersion: '1.0.0',
  interfaces: [{ name: 'br0' }, { name: 'eth0', mac: '02:00:00:00:00:01', sandbox: 'NS' }],
  ips: [{ address: '10.9.0.7/24', gateway: '10.9.0.1', interface: 1 }],
  routes: [{ dst: '0.0.0.0/0' }],
});

/** A plugin that records "name cmd ifname netns args<TAB>stdin" and then runs `body`. */
function plugin(name: string, body: string): void {
  const script = `#!/bin/sh
in=$(cat)
printf '%s %s %s %s %s\\t%s\\n' ${name} "$CNI_COMMAND" "$CNI_IFNAME" "\${CNI_NETNS:--}" "$CNI_ARGS" "$in" >> ${calls}
${body}
`;
  writeFileSync(join(bin, name), script);
  chmodSync(join(bin, name), 0o755);
}

function invocations(): { line: string; stdin: Record<string, unknown> }[] {
  if (!existsSync(calls)) return [];
  return readFileSync(calls, 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const [line, stdin] = l.split('\t');
      return { line: line!, stdin: JSON.parse(stdin!) as Record<string, unknown> };
    });
}

function writeConf(plugins: unknown[], version = '1.0.0'): void {
  writeFileSync(join(conf, '10-test.conflist'), JSON.stringify({ cniVersion: version, name: 'testnet', plugins }));
}

let netns: string;
const req = (): PodNetworkRequest => ({
  podId: 'pod1',
  name: 'web',
  namespace: 'default',
  uid: 'uid-1',
  netnsPath: netns,
  portMappings: [{ protocol: 'TCP', container_port: 80, host_port: 8080, host_ip: '' }],
  annotations: { team: 'a' },
});

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bhk-cni-'));
  bin = join(dir, 'bin');
  conf = join(dir, 'conf');
  calls = join(dir, 'calls.log');
  netns = join(dir, 'netns');
  mkdirSync(bin);
  mkdirSync(conf);
  writeFileSync(netns, '');
  plugin('loopback', `echo '{"cniVersion":"1.0.0"}'`);
  plugin('fakebr', `[ "$CNI_COMMAND" = ADD ] && echo '${RESULT}'; exit 0`);
  // passes its prevResult through, as chained plugins do
  plugin('fakepm', `[ "$CNI_COMMAND" = ADD ] && echo '${RESULT}'; exit 0`);
  net = new CniNetwork({ confDir: conf, binDirs: [join(dir, 'nothing'), bin], cacheDir: join(dir, 'cache'), log: silentLogger, delAttempts: 3 });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('CniNetwork', () => {
  it('reports NetworkReady from the config and plugins', () => {
    expect(net.statusCondition()).toMatchObject({ status: false, reason: 'NetworkPluginNotReady', message: expect.stringMatching(/no CNI configuration file/) });
    writeConf([{ type: 'fakebr' }, { type: 'nosuch' }]);
    expect(net.statusCondition()).toMatchObject({ status: false, message: expect.stringMatching(/nosuch not found/) });
    writeConf([{ type: 'fakebr' }]);
    expect(net.statusCondition()).toEqual({ type: 'NetworkReady', status: true, reason: '', message: '' });
  });

  it('runs the chain on ADD (no loopback plugin), the chain reversed on DEL, with the cached result', async () => {
    writeConf([{ type: 'fakebr', bridge: 'x' }, { type: 'fakepm', capabilities: { portMappings: true } }]);
    const s = await net.setUp(req());
    expect(s.ips).toEqual(['10.9.0.7']);
    const args = 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=pod1;K8S_POD_UID=uid-1';
    let inv = invocations();
    expect(inv.map((i) => i.line)).toEqual([`fakebr ADD eth0 ${netns} ${args}`, `fakepm ADD eth0 ${netns} ${args}`]);
    expect(inv[0]!.stdin).toEqual({ type: 'fakebr', bridge: 'x', name: 'testnet', cniVersion: '1.0.0' });
    expect(inv[1]!.stdin).toMatchObject({
      name: 'testnet',
      prevResult: JSON.parse(RESULT),
      runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] },
    });
    expect(await net.status({ podId: 'pod1' })).toEqual(s);
    expect(await net.cachedPodIds()).toEqual(['pod1']);

    // the config changes: DEL still uses what ADD used
    writeConf([{ type: 'fakebr', bridge: 'other' }]);
    rmSync(calls);
    await net.tearDown(req());
    inv = invocations();
    expect(inv.map((i) => i.line.split(' ').slice(0, 3).join(' '))).toEqual(['fakepm DEL eth0', 'fakebr DEL eth0']);
    expect(inv[0]!.stdin).toMatchObject({ prevResult: JSON.parse(RESULT), runtimeConfig: { portMappings: [{ hostPort: 8080 }] } });
    expect(inv[1]!.stdin).toMatchObject({ bridge: 'x' });
    expect(await net.status({ podId: 'pod1' })).toBeUndefined();
    expect(await net.cachedPodIds()).toEqual([]);

    rmSync(calls);
    await net.tearDown(req()); // idempotent: nothing left to do
    expect(invocations()).toEqual([]);
  });

  it('still DELs loopback for a pod whose cache entry says (or, from older versions, implies) it ran', async () => {
    writeConf([{ type: 'fakebr' }]);
    await net.setUp(req());
    const file = join(dir, 'cache', 'pod1.json');
    const entry = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(entry.loopback).toBe(false);
    delete entry.loopback; // as written before the loopback plugin was dropped
    writeFileSync(file, JSON.stringify(entry));
    rmSync(calls);
    await net.tearDown(req());
    expect(invocations().map((i) => i.line.split(' ').slice(0, 3).join(' '))).toEqual(['fakebr DEL eth0', 'loopback DEL lo']);
  });

  it('skips portmap (ADD and DEL) for a pod without port mappings', async () => {
    plugin('portmap', `[ "$CNI_COMMAND" = ADD ] && echo '${RESULT}'; exit 0`);
    writeConf([{ type: 'fakebr' }, { type: 'portmap', capabilities: { portMappings: true } }]);
    const noPorts = { ...req(), portMappings: [] };
    expect((await net.setUp(noPorts)).ips).toEqual(['10.9.0.7']);
    await net.tearDown(noPorts);
    expect(invocations().map((i) => i.line.split(' ').slice(0, 2).join(' '))).toEqual(['fakebr ADD', 'fakebr DEL']);
    rmSync(calls);
    await net.setUp(req()); // with a host port: portmap runs
    await net.tearDown(req());
    expect(invocations().map((i) => i.line.split(' ').slice(0, 2).join(' '))).toEqual(['fakebr ADD', 'portmap ADD', 'portmap DEL', 'fakebr DEL']);
  });

  it('DELs everything when ADD fails and reports the plugin error', async () => {
    plugin('fakefail', `[ "$CNI_COMMAND" = ADD ] && { echo '{"code":7,"msg":"bad config","details":"no bridge"}'; exit 1; }; exit 0`);
    writeConf([{ type: 'fakebr' }, { type: 'fakefail' }, { type: 'fakepm' }]);
    await expect(net.setUp(req())).rejects.toThrow('CNI plugin fakefail ADD failed (code 7: invalid network config): bad config: no bridge');
    expect(invocations().map((i) => i.line.split(' ').slice(0, 2).join(' '))).toEqual([
      'fakebr ADD',
      'fakefail ADD',
      'fakepm DEL',
      'fakefail DEL',
      'fakebr DEL',
    ]);
    expect(readdirSync(join(dir, 'cache'))).toEqual([]);
  });

  it('retries DEL, and passes an empty CNI_NETNS when the netns is gone', async () => {
    writeConf([{ type: 'fakebr' }, { type: 'flaky' }]);
    // fails its first DEL only
    plugin('flaky', `[ "$CNI_COMMAND" = ADD ] && echo '${RESULT}'; [ "$CNI_COMMAND" = DEL ] && [ ! -e ${dir}/flaked ] && { touch ${dir}/flaked; echo busy >&2; exit 1; }; exit 0`);
    await net.setUp(req());
    rmSync(netns);
    rmSync(calls);
    await net.tearDown(req());
    expect(invocations().map((i) => i.line.split(' ').slice(0, 4).join(' '))).toEqual([
      'flaky DEL eth0 -',
      'fakebr DEL eth0 -',
      'flaky DEL eth0 -',
      'fakebr DEL eth0 -',
    ]);
  });

  it('gives up after the DEL attempts and keeps the cache for a later try', async () => {
    writeConf([{ type: 'fakebr' }, { type: 'broken' }]);
    plugin('broken', `[ "$CNI_COMMAND" = ADD ] && echo '${RESULT}'; [ "$CNI_COMMAND" = DEL ] && { echo stuck >&2; exit 1; }; exit 0`);
    await net.setUp(req());
    await expect(net.tearDown(req())).rejects.toThrow(/DEL failed after 3 attempts: CNI plugin broken DEL failed: exit status 1: stuck/);
    expect(await net.status({ podId: 'pod1' })).toBeDefined();
  });

  it('refuses to set up without config or netns', async () => {
    await expect(net.setUp(req())).rejects.toThrow(/pod network not ready: no CNI configuration file/);
    writeConf([{ type: 'fakebr' }]);
    await expect(net.setUp({ ...req(), netnsPath: join(dir, 'missing') })).rejects.toThrow(/does not exist/);
    expect(invocations()).toEqual([]);
  });
});

describe('parseProcNetDev', () => {
  it('reads per-interface counters', () => {
    const text = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     140       2    0    0    0     0          0         0      140       2    0    0    0     0       0          0
  eth0:    1046      11    1    3    0     0          0         0      656       8    2    4    0     0       0          0
`;
    expect(parseProcNetDev(text)).toEqual([
      { name: 'lo', rxBytes: 140, rxErrors: 0, txBytes: 140, txErrors: 0, rxPackets: 2, rxDropped: 0, txPackets: 2, txDropped: 0 },
      { name: 'eth0', rxBytes: 1046, rxErrors: 1, txBytes: 656, txErrors: 2, rxPackets: 11, rxDropped: 3, txPackets: 8, txDropped: 4 },
    ]);
  });
});
