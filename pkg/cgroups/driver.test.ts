// Both cgroup drivers' decisions: names, what goes to systemd (and what does not), start-up checks.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CgroupfsDriver, SystemdDriver, cgroupDriverProblem, openCgroupDriver } from './driver.js';
import { SystemdClient } from './systemd-bus.js';
import { FakeSystemd, prop } from './testdata/fake-systemd.js';

function systemd(mode: 'v1' | 'v2' = 'v2', root?: string) {
  const fake = new FakeSystemd();
  return { fake, driver: new SystemdDriver({ client: new SystemdClient(fake), mode, root }) };
}

describe('SystemdDriver', () => {
  it('an owned pod slice is created with the pod resources', async () => {
    const { fake, driver } = systemd();
    const slice = driver.ownedPodParent('0123456789abcdef99');
    expect(slice).toBe('bulkhead-pod0123456789abcdef.slice');
    await driver.ensurePod(slice, { memoryLimit: 128 * 2 ** 20, cpuQuota: 20_000, cpuPeriod: 100_000 }, true);
    const props = fake.units.get(slice);
    expect(prop(props, 'MemoryMax')).toBe(134_217_728n);
    expect(prop(props, 'CPUQuotaPerSecUSec')).toBe(200_000n);
    expect(prop(props, 'MemoryAccounting')).toBe(true);
  });

  it("kubelet's existing slice is left as kubelet sized it", async () => {
    const { fake, driver } = systemd();
    fake.units.set('kubepods-burstable-pod1.slice', []);
    await driver.ensurePod('kubepods-burstable-pod1.slice', { memoryLimit: 1 }, false);
    expect(fake.members('SetUnitProperties')).toHaveLength(0);
    expect(fake.units.get('kubepods-burstable-pod1.slice')).toEqual([]);
  });

  it('a missing kubelet slice is created without limits', async () => {
    const { fake, driver } = systemd();
    await driver.ensurePod('kubepods-burstable-pod2.slice', { memoryLimit: 1 }, false);
    expect(prop(fake.units.get('kubepods-burstable-pod2.slice'), 'MemoryMax')).toBeUndefined();
  });

  it('an owned slice that exists already (a retried create) gets the resources set', async () => {
    const { fake, driver } = systemd();
    fake.units.set('bulkhead-pod1.slice', []);
    await driver.ensurePod('bulkhead-pod1.slice', { cpuShares: 1024 }, true);
    expect(prop(fake.units.get('bulkhead-pod1.slice'), 'CPUWeight')).toBe(39n);
    await driver.updatePod('bulkhead-pod1.slice', { memoryLimit: 4096 });
    expect(prop(fake.units.get('bulkhead-pod1.slice'), 'MemoryMax')).toBe(4096n);
  });

  it('removal stops the slice (and with it every unit inside)', async () => {
    const { fake, driver } = systemd();
    await driver.ensurePod('bulkhead-pod1.slice', {}, true);
    await driver.removePod('bulkhead-pod1.slice');
    expect(fake.units.has('bulkhead-pod1.slice')).toBe(false);
    await driver.removePod('bulkhead-pod1.slice'); // idempotent
  });

  it('names container scopes and adopts conmon into the pod slice', async () => {
    const { fake, driver } = systemd();
    expect(driver.containerCgroupsPath('kubepods-pod1.slice', 'abc')).toBe('kubepods-pod1.slice:bulkhead:abc');
    // a pod recorded under the cgroupfs driver keeps its form
    expect(driver.containerCgroupsPath('/kubepods/pod1', 'abc')).toBe('/kubepods/pod1/abc');
    await driver.adopt('kubepods-pod1.slice', 'conmon-abc', [4242]);
    const scope = fake.units.get('bulkhead-conmon-abc.scope');
    expect(prop(scope, 'Slice')).toBe('kubepods-pod1.slice');
    expect(prop(scope, 'PIDs')).toEqual([4242]);
    await expect(driver.adopt('kubepods-pod1.slice', 'a/b', [1])).rejects.toThrow(/invalid unit name/);
    expect(driver.runtimeArgs).toEqual(['--systemd-cgroup']);
    expect(driver.monitorArgs).toEqual(['--systemd-cgroup']);
  });

  it('refuses cgroupfs parents from kubelet (drivers must match)', () => {
    const { driver } = systemd();
    expect(() => driver.podParent('/kubepods/burstable/pod1')).toThrow(/not a systemd slice.*must match/);
    expect(() => driver.podParent('kubepods--x.slice')).toThrow(/invalid systemd slice/);
    expect(driver.podParent('kubepods-burstable-pod1.slice')).toBe('kubepods-burstable-pod1.slice');
    // critest sends "/test.slice"; a full path names its last slice (as containerd and CRI-O read it)
    expect(driver.podParent('/test.slice')).toBe('test.slice');
    expect(driver.podParent('/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/')).toBe('kubepods-burstable-pod1.slice');
  });

  it('cgroup v1: cpusets go to cgroupfs (systemd has no v1 cpuset)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'bh-sdv1-'));
    const dir = join(root, 'cpuset', 'bulkhead.slice', 'bulkhead-pod1.slice');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'cpuset.cpus'), '');
    const { fake, driver } = systemd('v1', root);
    await driver.ensurePod('bulkhead-pod1.slice', { cpusetCpus: '0', memoryLimit: 4096 }, true);
    expect(readFileSync(join(dir, 'cpuset.cpus'), 'utf8')).toBe('0');
    expect(prop(fake.units.get('bulkhead-pod1.slice'), 'MemoryLimit')).toBe(4096n);
  });
});

describe('CgroupfsDriver', () => {
  it('keeps the cgroupfs names and refuses slices from a systemd kubelet', async () => {
    const d = new CgroupfsDriver();
    expect(d.ownedPodParent('0123456789abcdef99')).toBe('/bulkhead/pod-0123456789abcdef');
    expect(d.containerCgroupsPath('/kubepods/pod1', 'c')).toBe('/kubepods/pod1/c');
    expect(() => d.podParent('kubepods-burstable-pod1.slice')).toThrow(/systemd slice.*must match/);
    expect(() => d.podParent('/kubepods/../x')).toThrow(/invalid cgroup path/);
    expect(d.podParent('/kubepods/pod1')).toBe('/kubepods/pod1');
    expect(d.runtimeArgs).toEqual([]);
    await d.adopt();
  });
});

describe('start-up checks', () => {
  it('cgroupfs needs nothing', async () => {
    expect(await cgroupDriverProblem('cgroupfs')).toBeUndefined();
    expect((await openCgroupDriver('cgroupfs')).name).toBe('cgroupfs');
  });

  it('systemd: the host problem, then the bus answer', async () => {
    expect(await cgroupDriverProblem('systemd', { hostProblem: () => 'systemd is not the init system here' })).toMatch(
      /cgroup_driver "systemd": systemd is not the init system here; use cgroup_driver = "cgroupfs"/,
    );
    const ok = new FakeSystemd();
    expect(await cgroupDriverProblem('systemd', { hostProblem: () => undefined, client: () => new SystemdClient(ok) })).toBeUndefined();
    expect(ok.closed).toBe(true);
    const dead = new FakeSystemd();
    dead.call = () => Promise.reject(new Error('connect ENOENT /run/dbus/system_bus_socket'));
    expect(await cgroupDriverProblem('systemd', { hostProblem: () => undefined, client: () => new SystemdClient(dead) })).toMatch(/does not answer on the D-Bus system bus \(connect ENOENT/);
  });

  it('this host (no systemd as init) refuses the systemd driver at open', async () => {
    // The build machine runs without systemd as PID 1 (docs/machine.md); a systemd host skips this.
    if (!(await cgroupDriverProblem('systemd', { hostProblem: undefined }).then((p) => p?.includes('not the init system')))) return;
    await expect(openCgroupDriver('systemd')).rejects.toThrow(/systemd is not the init system here/);
  });
});
