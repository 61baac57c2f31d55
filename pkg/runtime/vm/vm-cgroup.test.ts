// Where a pod VM's QEMU and virtiofsd go with each cgroup driver.
import { describe, expect, it } from 'vitest';
import { SystemdDriver } from '../../cgroups/driver.js';
import { SystemdClient } from '../../cgroups/systemd-bus.js';
import { FakeSystemd, prop } from '../../cgroups/testdata/fake-systemd.js';
import { VmPodCgroup } from './vm-cgroup.js';

function systemd() {
  const fake = new FakeSystemd();
  return { fake, vm: new VmPodCgroup(new SystemdDriver({ client: new SystemdClient(fake), mode: 'v2', root: '/nonexistent-cgroup-root' })) };
}

describe('VmPodCgroup with the systemd driver', () => {
  const owned = { id: '0123456789abcdef0123', cgroupParent: 'bulkhead-pod0123456789abcdef.slice', cgroupOwned: true };
  const kubelet = { id: 'fedcba98765432100000', cgroupParent: 'kubepods-burstable-pod1.slice', cgroupOwned: false };

  it('no cgroup.procs writes at spawn: nothing is made behind systemd\'s back', () => {
    const { vm } = systemd();
    expect(vm.procsFiles(owned)).toEqual([]);
  });

  it('QEMU and virtiofsd go into a scope in the pod slice; an owned slice is made without limits', async () => {
    const { fake, vm } = systemd();
    await vm.place(owned, [101, 102]);
    expect(fake.units.has(owned.cgroupParent)).toBe(true);
    expect(prop(fake.units.get(owned.cgroupParent), 'MemoryMax')).toBeUndefined();
    const scope = fake.units.get('bulkhead-vm-0123456789abcdef.scope');
    expect(prop(scope, 'Slice')).toBe(owned.cgroupParent);
    expect(prop(scope, 'PIDs')).toEqual([101, 102]);
  });

  it("kubelet's slice is used as is (not resized)", async () => {
    const { fake, vm } = systemd();
    fake.units.set(kubelet.cgroupParent, []);
    await vm.place(kubelet, [7, 8]);
    expect(fake.members('SetUnitProperties')).toHaveLength(0);
    expect(prop(fake.units.get('bulkhead-vm-fedcba9876543210.scope'), 'Slice')).toBe(kubelet.cgroupParent);
  });

  it('removal stops an owned slice and leaves kubelet\'s alone', async () => {
    const { fake, vm } = systemd();
    await vm.remove(owned);
    await vm.remove(kubelet);
    expect(fake.members('StopUnit').map((c) => c.body?.[0])).toEqual([owned.cgroupParent]);
  });
});
