// A crictl session against a private daemon: runp, create, start, exec, logs, stats, stop, rmp;
// afterwards no mount, netns, cgroup, veth or process of the pod may remain.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownDaemon, mountsUnder, type OwnDaemon } from './lib/own-daemon.js';

const IMAGE = 'docker.io/library/busybox:latest';
const isRoot = process.getuid?.() === 0;

/** Host-side veths enslaved to this daemon's own bridge (other tests may run beside us). */
function vethCount(bridge: string): number {
  try {
    return execFileSync('ip', ['-o', 'link', 'show', 'master', bridge, 'type', 'veth']).toString().split('\n').filter(Boolean).length;
  } catch {
    return 0; // the bridge is gone: no veth can hang off it
  }
}

describe.skipIf(!isRoot)('pod lifecycle through crictl', () => {
  let d: OwnDaemon;
  beforeAll(async () => {
    d = ownDaemon('life');
    await d.start();
    await d.crictl('pull', IMAGE);
  });
  afterAll(async () => {
    await d?.cleanup();
  });

  it('runs a pod with a container and frees everything on rmp', async () => {
    const vethsBefore = vethCount(d.bridge);
    const pod = join(d.dir, 'pod.json');
    const ctr = join(d.dir, 'ctr.json');
    writeFileSync(pod, JSON.stringify({ metadata: { name: 'life', namespace: 'e2e', uid: 'life-uid', attempt: 0 }, hostname: 'lifepod', log_directory: d.logDir, linux: {} }));
    writeFileSync(ctr, JSON.stringify({ metadata: { name: 'main' }, image: { image: IMAGE }, command: ['sh', '-c', 'echo started; while true; do sleep 1; done'], log_path: 'main.log' }));
    const podId = (await d.crictl('runp', pod)).trim();
    expect(podId).toMatch(/^[0-9a-f]{64}$/);
    const ctrId = (await d.crictl('create', podId, ctr, pod)).trim();
    await d.crictl('start', ctrId);

    const out = await d.crictl('exec', '-s', ctrId, 'sh', '-c', 'hostname; ip -4 -o addr show eth0; cat /proc/1/cmdline');
    expect(out).toContain('lifepod');
    expect(out).toContain(`inet ${d.subnetPrefix}.`);
    expect(out).toContain('catatonit'); // pod-level PID namespace by default: infra is pid 1

    for (let i = 0; i < 50 && !(await d.crictl('logs', ctrId)).includes('started'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await d.crictl('logs', ctrId)).toContain('started');
    expect(readFileSync(join(d.logDir, 'main.log'), 'utf8')).toMatch(/stdout F started/);

    const stats = JSON.parse(await d.crictl('stats', '-o', 'json', ctrId)) as { stats: { memory: { workingSetBytes: { value: string } } }[] };
    expect(Number(stats.stats[0]!.memory.workingSetBytes.value)).toBeGreaterThan(0);
    const podStats = JSON.parse(await d.crictl('statsp', '-o', 'json', podId)) as { stats: { linux: { network: { defaultInterface: { name: string } } } }[] };
    expect(podStats.stats[0]!.linux.network.defaultInterface.name).toBe('eth0');

    const status = JSON.parse(await d.crictl('inspectp', '-o', 'json', podId)) as { info: { infraPid: number; namespaces: { net: string } } };
    const infraPid = status.info.infraPid;
    const netns = status.info.namespaces.net;
    const cstatus = JSON.parse(await d.crictl('inspect', '-o', 'json', ctrId)) as { info: { pid: number; conmonPid: number } };
    const pids = [infraPid, cstatus.info.pid, cstatus.info.conmonPid];
    expect(pids.every((p) => p > 0 && existsSync(`/proc/${p}`))).toBe(true);

    await d.crictl('stopp', podId);
    const stopped = JSON.parse(await d.crictl('inspect', '-o', 'json', ctrId)) as { status: { state: string; exitCode: number } };
    expect(stopped.status.state).toBe('CONTAINER_EXITED');
    await d.crictl('stopp', podId); // idempotent
    await d.crictl('rmp', podId);
    await d.crictl('rmp', podId).catch(() => undefined);

    expect(JSON.parse(await d.crictl('pods', '-o', 'json')).items).toEqual([]);
    expect(mountsUnder(d.root, d.state)).toEqual([]);
    expect(existsSync(netns)).toBe(false);
    for (const p of pids) {
      const alive = existsSync(`/proc/${p}`) && !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${p}/stat`, 'utf8'));
      expect(alive, `pid ${p} still alive`).toBe(false);
    }
    const podCg = `pod-${podId.slice(0, 16)}`;
    for (const ctl of ['memory', 'cpu', 'pids']) {
      const base = `/sys/fs/cgroup/${ctl}/bulkhead`;
      if (existsSync(base)) expect(readdirSync(base)).not.toContain(podCg);
    }
    expect(vethCount(d.bridge)).toBe(vethsBefore);
    expect(readdirSync(join(d.root, 'pods'))).toEqual([]);
    expect(readdirSync(join(d.root, 'containers'))).toEqual([]);
  });

  it('rejects a duplicate pod name with AlreadyExists and an unknown handler clearly', async () => {
    const pod = join(d.dir, 'dup.json');
    writeFileSync(pod, JSON.stringify({ metadata: { name: 'dup', namespace: 'e2e', uid: 'dup-uid', attempt: 0 }, linux: { security_context: { namespace_options: { pid: 1 } } } }));
    const id = (await d.crictl('runp', pod)).trim();
    await expect(d.crictl('runp', pod)).rejects.toThrow(/AlreadyExists.*already exists/);
    await expect(d.crictl('runp', '--runtime', 'nope', pod)).rejects.toThrow(/NotFound desc = runtime handler .{1,4}nope.{1,4} is not configured/);
    await d.crictl('rmp', '-f', id);
  });
});
