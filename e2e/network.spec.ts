// Pod namespaces and CNI networking against the real kernel and the real plugins in /usr/lib/cni.
// Uses a unique bridge name, subnet, conf dir and host-local data dir; removes all of it.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, existsSync, writeFileSync, mkdirSync, chmodSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { randomBytes, randomInt } from 'node:crypto';
import type { SpawnedProcess } from '../pkg/sys/spawn.js';
import { createPodNamespaces, removePodNamespaces, listPinnedNamespaces, type PodNamespaces } from '../pkg/network/namespaces.js';
import { spawnInNetns } from '../pkg/sys/netns-exec.js';
import { execFileResult as execCapture } from '../pkg/sys/exec-file.js';
import { CniNetwork, netnsInterfaceStats, type PodNetworkRequest } from '../pkg/network/cni.js';
import { silentLogger } from '../pkg/log/logger.js';

async function sh(cmd: string, args: string[]): Promise<string> {
  const r = await execCapture(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

describe('pod namespaces', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'bhk-netns-'));
  });
  afterAll(async () => {
    for (const p of await listPinnedNamespaces(root)) await removePodNamespaces({ net: p });
    rmSync(root, { recursive: true, force: true });
  });

  it('pins net/ipc/uts with hostname and sysctls, then removes them', async () => {
    const dir = join(root, 'pod1', 'ns');
    const ns = await createPodNamespaces({
      dir,
      net: true,
      ipc: true,
      uts: true,
      hostname: 'bhk-test-host',
      sysctls: { 'net.ipv4.ip_unprivileged_port_start': '0', 'kernel.shmmni': '2048' },
    });
    expect(ns).toEqual({ net: join(dir, 'net'), ipc: join(dir, 'ipc'), uts: join(dir, 'uts') });
    expect(await listPinnedNamespaces(root)).toEqual([ns.ipc, ns.net, ns.uts]);
    expect((await sh('nsenter', [`--uts=${ns.uts}`, 'hostname'])).trim()).toBe('bhk-test-host');
    expect((await sh('nsenter', [`--net=${ns.net}`, 'cat', '/proc/sys/net/ipv4/ip_unprivileged_port_start'])).trim()).toBe('0');
    expect((await sh('nsenter', [`--ipc=${ns.ipc}`, 'cat', '/proc/sys/kernel/shmmni'])).trim()).toBe('2048');
    expect(await sh('nsenter', [`--net=${ns.net}`, 'ip', '-o', 'link', 'show', 'lo'])).toMatch(/UP/);
    // the host kept its own values
    expect((await sh('hostname', [])).trim()).not.toBe('bhk-test-host');
    await removePodNamespaces(ns);
    await removePodNamespaces(ns); // idempotent
    expect(await listPinnedNamespaces(root)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });

  it('creates only what is asked', async () => {
    const ns = await createPodNamespaces({ dir: join(root, 'pod2', 'ns'), net: false, ipc: true, uts: false, hostname: 'ignored', sysctls: {} });
    expect(Object.keys(ns)).toEqual(['ipc']);
    await removePodNamespaces(ns);
  });

  it('rejects host-wide sysctls and cleans up after a failing sysctl write', async () => {
    const dir = join(root, 'pod3', 'ns');
    await expect(createPodNamespaces({ dir, net: true, ipc: true, uts: true, sysctls: { 'vm.swappiness': '1' } })).rejects.toThrow(/not namespaced/);
    await expect(createPodNamespaces({ dir, net: false, ipc: true, uts: true, sysctls: { 'net.ipv4.ip_forward': '1' } })).rejects.toThrow(/host's/);
    await expect(
      createPodNamespaces({ dir, net: true, ipc: true, uts: true, sysctls: { 'net.ipv4.no_such_sysctl': '1' } }),
    ).rejects.toThrow(/net.ipv4.no_such_sysctl=1 .*failed/);
    expect(await listPinnedNamespaces(root)).toEqual([]);
    expect(existsSync(join(dir, 'net'))).toBe(false);
  });
});

/** Connects to host:port and returns what the server sends before closing. */
function fetchGreeting(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port, timeout: 5000 });
    let data = '';
    sock.on('data', (b: Buffer) => (data += b.toString()));
    sock.on('end', () => resolve(data));
    sock.on('timeout', () => sock.destroy(new Error('timeout')));
    sock.on('error', reject);
  });
}

/** Retries fn until it resolves (or the deadline passes): for things the kernel does asynchronously. */
async function eventually<T>(fn: () => Promise<T>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function linkExists(name: string): Promise<boolean> {
  return (await execCapture('ip', ['link', 'show', 'dev', name])).code === 0;
}

describe('CNI pod networking with the real plugins', () => {
  const bridge = `bhkt${randomBytes(3).toString('hex')}`;
  const net16 = `10.${200 + randomInt(50)}.${randomInt(256)}`;
  const subnet = `${net16}.0/24`;
  const gateway = `${net16}.1`;
  const hostPort = 20000 + randomInt(10000);
  let root: string;
  let ipamDir: string;
  let network: CniNetwork;
  const cleanups: (() => Promise<void>)[] = [];

  const bridgePlugin = () => ({
    type: 'bridge',
    bridge,
    isGateway: true,
    ipMasq: false,
    hairpinMode: true,
    ipam: { type: 'host-local', subnet, routes: [{ dst: '0.0.0.0/0' }], dataDir: ipamDir },
  });

  function conf(dir: string, plugins: unknown[]): string {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, '10-test.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'bhktest', plugins }));
    return dir;
  }

  /** IPs host-local still holds (its dataDir has one file per allocated IP, besides lock/last_reserved_ip). */
  function allocatedIps(): string[] {
    const d = join(ipamDir, 'bhktest');
    return existsSync(d) ? readdirSync(d).filter((f) => /^[0-9a-f.:]+$/.test(f)) : [];
  }

  async function natRulesFor(podId: string): Promise<string[]> {
    const out = await execCapture('iptables-save', ['-t', 'nat']);
    return out.stdout.split('\n').filter((l) => l.includes(podId));
  }

  function podReq(podId: string, netnsPath: string): PodNetworkRequest {
    return {
      podId,
      name: `web-${podId.slice(0, 6)}`,
      namespace: 'bhk-test',
      uid: `uid-${podId.slice(0, 8)}`,
      netnsPath,
      portMappings: [{ protocol: 'TCP', container_port: 8080, host_port: hostPort, host_ip: '' }],
      annotations: {},
    };
  }

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'bhk-cnie2e-'));
    ipamDir = join(root, 'ipam');
    network = new CniNetwork({
      confDir: conf(join(root, 'net.d'), [bridgePlugin(), { type: 'portmap', capabilities: { portMappings: true } }]),
      binDirs: ['/usr/lib/cni'],
      cacheDir: join(root, 'cni-cache'),
      log: silentLogger,
    });
  });

  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    for (const p of await listPinnedNamespaces(root)) await removePodNamespaces({ net: p });
    await execCapture('ip', ['link', 'del', bridge]);
    rmSync(root, { recursive: true, force: true });
  });

  it('is ready with the test config', () => {
    expect(network.statusCondition()).toMatchObject({ type: 'NetworkReady', status: true });
  });

  it('sets up a pod: IP, veth, ping, port mapping; tears it down without leaks', async () => {
    const podId = randomBytes(32).toString('hex');
    const ns = await createPodNamespaces({ dir: join(root, 'pods', podId, 'ns'), net: true, ipc: true, uts: true, hostname: 'pod-a', sysctls: {} });
    cleanups.push(() => removePodNamespaces(ns));
    const req = podReq(podId, ns.net!);

    cleanups.push(() => network.tearDown(req));
    const status = await network.setUp(req);
    expect(status.ips).toHaveLength(1);
    const podIp = status.ips[0]!;
    expect(podIp.startsWith(`${net16}.`)).toBe(true);
    expect(status.interfaces.find((i) => i.sandbox)).toMatchObject({ name: 'eth0', sandbox: ns.net });
    const veth = status.interfaces.find((i) => i.name !== bridge && !i.sandbox)!.name;
    expect(await linkExists(veth)).toBe(true);
    expect((await execCapture('ip', ['-o', 'link', 'show', 'dev', veth])).stdout).toContain(`master ${bridge}`);
    expect(allocatedIps()).toEqual([podIp]);
    expect(await network.status({ podId })).toEqual(status);
    // (no CHECK here: portmap 1.1.1's CHECK looks for an IPv6 DNAT chain even on IPv4-only pods and fails)

    const ping = await execCapture('busybox', ['ping', '-c', '1', '-W', '3', podIp]);
    expect(ping.code, ping.stdout + ping.stderr).toBe(0);

    // hostPort → a listener inside the pod netns, reached through the bridge gateway address
    const listener: SpawnedProcess = spawnInNetns(ns.net!, 'socat', ['TCP-LISTEN:8080,reuseaddr,fork', 'SYSTEM:echo hello-from-pod']);
    cleanups.push(async () => void listener.kill('SIGKILL'));
    expect((await natRulesFor(podId)).length).toBeGreaterThan(0);
    expect((await eventually(() => fetchGreeting(gateway, hostPort))).trim()).toBe('hello-from-pod');
    listener.kill('SIGKILL');

    const stats = await netnsInterfaceStats(ns.net!);
    const eth0 = stats.find((s) => s.name === 'eth0')!;
    expect(eth0.rxBytes).toBeGreaterThan(0);
    expect(eth0.txBytes).toBeGreaterThan(0);

    await network.tearDown(req);
    await network.tearDown(req); // idempotent
    await removePodNamespaces(ns);
    expect(await linkExists(veth)).toBe(false);
    expect(await listPinnedNamespaces(root)).toEqual([]);
    expect(allocatedIps()).toEqual([]);
    expect(await natRulesFor(podId)).toEqual([]);
    expect(await network.status({ podId })).toBeUndefined();
  });

  it('tears down after the netns is already gone (IP released, port rules removed)', async () => {
    const podId = randomBytes(32).toString('hex');
    const ns: PodNamespaces = await createPodNamespaces({ dir: join(root, 'pods', podId, 'ns'), net: true, ipc: false, uts: false, sysctls: {} });
    const req = podReq(podId, ns.net!);
    cleanups.push(() => network.tearDown(req));
    cleanups.push(() => removePodNamespaces(ns));
    await network.setUp(req);
    expect(allocatedIps()).toHaveLength(1);
    await removePodNamespaces(ns);
    await network.tearDown(req);
    expect(allocatedIps()).toEqual([]);
    expect(await natRulesFor(podId)).toEqual([]);
    // the veth dies with the netns, which the kernel cleans up asynchronously
    await eventually(async () => expect((await execCapture('ip', ['-o', 'link', 'show', 'master', bridge])).stdout.trim()).toBe(''));
  });

  it('sets up and tears down several pods in parallel', async () => {
    const pods = await Promise.all(
      [0, 1, 2].map(async () => {
        const podId = randomBytes(32).toString('hex');
        const ns = await createPodNamespaces({ dir: join(root, 'pods', podId, 'ns'), net: true, ipc: true, uts: true, sysctls: {} });
        const req = { ...podReq(podId, ns.net!), portMappings: [] };
        cleanups.push(() => removePodNamespaces(ns));
        cleanups.push(() => network.tearDown(req));
        return { ns, req, status: await network.setUp(req) };
      }),
    );
    const ips = pods.map((p) => p.status.ips[0]!);
    expect(new Set(ips).size).toBe(3);
    expect(allocatedIps().sort()).toEqual([...ips].sort());
    for (const ip of ips) expect((await execCapture('busybox', ['ping', '-c', '1', '-W', '3', ip])).code).toBe(0);
    await Promise.all(pods.map((p) => network.tearDown(p.req)));
    await Promise.all(pods.map((p) => removePodNamespaces(p.ns)));
    expect(allocatedIps()).toEqual([]);
    expect(await network.cachedPodIds()).toEqual([]);
    expect(await listPinnedNamespaces(root)).toEqual([]);
  });

  it('leaves nothing behind when a plugin fails ADD', async () => {
    const bin = join(root, 'fakebin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'failer'), '#!/bin/sh\ncat >/dev/null\n[ "$CNI_COMMAND" = ADD ] && { echo \'{"code":7,"msg":"failer says no"}\'; exit 1; }\nexit 0\n');
    chmodSync(join(bin, 'failer'), 0o755);
    const failing = new CniNetwork({
      confDir: conf(join(root, 'net.d-fail'), [bridgePlugin(), { type: 'portmap', capabilities: { portMappings: true } }, { type: 'failer' }]),
      binDirs: [bin, '/usr/lib/cni'],
      cacheDir: join(root, 'cni-cache'),
      log: silentLogger,
    });
    const podId = randomBytes(32).toString('hex');
    const ns = await createPodNamespaces({ dir: join(root, 'pods', podId, 'ns'), net: true, ipc: false, uts: false, sysctls: {} });
    cleanups.push(() => removePodNamespaces(ns));
    cleanups.push(() => failing.tearDown(podReq(podId, ns.net!)));
    await expect(failing.setUp(podReq(podId, ns.net!))).rejects.toThrow(/CNI plugin failer ADD failed \(code 7.*\): failer says no/);
    expect(allocatedIps()).toEqual([]);
    expect(await natRulesFor(podId)).toEqual([]);
    expect((await execCapture('ip', ['-o', 'link', 'show', 'master', bridge])).stdout.trim()).toBe('');
    expect((await execCapture('nsenter', [`--net=${ns.net}`, 'ip', '-o', 'link'])).stdout).not.toContain('eth0');
    expect(readdirSync(join(root, 'cni-cache'))).toEqual([]);
    await removePodNamespaces(ns);
  });
});
