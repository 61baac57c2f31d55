import { describe, expect, it } from 'vitest';
import type { SandboxRecord } from '../../store/records.js';
import type { PodNetworkStatus } from '../../network/cni.js';
import { podInterface, setupSandboxRequest } from './pod-network.js';

const sb = {
  id: 'pod1',
  config: { hostname: '', metadata: { name: 'x'.repeat(70) }, dns_config: { servers: ['10.96.0.10'], searches: ['svc'], options: [] }, linux: { sysctls: { 'kernel.shm_rmid_forced': '1' } } },
} as unknown as SandboxRecord;
const net: PodNetworkStatus = { ips: ['10.88.0.5'], ipConfigs: [{ address: '10.88.0.5/16', gateway: '10.88.0.1' }], interfaces: [{ name: 'eth0', mac: 'aa:bb:cc:dd:ee:ff', sandbox: '/ns' }], routes: [{ dst: '0.0.0.0/0' }] };

describe('setupSandboxRequest', () => {
  it('gives the guest NIC the veth MAC and MTU, found by the MAC it booted with', () => {
    const r = setupSandboxRequest(sb, net, { name: 'eth0', mac: 'aa:bb:cc:dd:ee:ff', mtu: 1450 }, '52:54:00:01:02:03', 'bulkhead');
    expect(r.interfaces).toEqual([{ name: 'eth0', mac: 'aa:bb:cc:dd:ee:ff', guest_mac: '52:54:00:01:02:03', addresses: [{ cidr: '10.88.0.5/16' }], mtu: 1450 }]);
    expect(r.routes).toEqual([{ dst: '0.0.0.0/0', gateway: '10.88.0.1' }]);
    // No hostname: the pod name, cut to the 63 characters of a DNS label.
    expect(r.hostname).toHaveLength(63);
    expect(r).toMatchObject({ sandbox_id: 'pod1', shared_fs_tag: 'bulkhead', sysctls: { 'kernel.shm_rmid_forced': '1' }, dns: { servers: ['10.96.0.10'], searches: ['svc'], options: [] } });
  });

  it('configures no NIC when CNI gave the pod no interface', () => {
    expect(setupSandboxRequest(sb, undefined, undefined, '52:54:00:01:02:03', 'bulkhead')).toMatchObject({ interfaces: [], routes: [] });
  });
});

describe('podInterface', () => {
  const host = { name: 'veth1234', mac: '02:00:00:00:00:01' };
  it('is the interface in the pod netns; host-side ones do not count', () => {
    expect(podInterface({ ...net, interfaces: [{ name: 'cni0', mac: '' }, host, ...net.interfaces] })?.name).toBe('eth0');
    expect(podInterface(undefined)).toBeUndefined();
  });
  it('refuses several in-pod interfaces with FailedPrecondition, naming them', () => {
    const two = { ...net, interfaces: [...net.interfaces, { name: 'net1', mac: '02:00:00:00:00:02', sandbox: '/ns' }] };
    expect(() => podInterface(two)).toThrow(/2 interfaces \(eth0, net1\)/);
    expect(() => podInterface(two)).toThrow(expect.objectContaining({ kind: 'failed-precondition' }));
  });
});
