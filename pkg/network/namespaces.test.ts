import { describe, it, expect } from 'vitest';
import { sysctlNamespace, sysctlPath } from './namespaces.js';

describe('sysctls', () => {
  it('knows which namespace a sysctl belongs to', () => {
    expect(sysctlNamespace('net.ipv4.ip_unprivileged_port_start')).toBe('net');
    expect(sysctlNamespace('net/ipv4/conf/eth0.1/rp_filter')).toBe('net');
    for (const k of ['kernel.shmmax', 'kernel.shm_rmid_forced', 'kernel.msgmnb', 'kernel.sem', 'kernel.sem_next_id', 'fs.mqueue.msg_max']) {
      expect(sysctlNamespace(k)).toBe('ipc');
    }
    expect(sysctlNamespace('kernel.domainname')).toBe('uts');
    for (const k of ['vm.swappiness', 'kernel.pid_max', 'kernel.semx.y', 'fs.file-max']) expect(sysctlNamespace(k)).toBeUndefined();
  });

  it('maps keys to /proc/sys paths, dots or slashes, and rejects traversal', () => {
    expect(sysctlPath('net.ipv4.ping_group_range')).toBe('net/ipv4/ping_group_range');
    expect(sysctlPath('net/ipv4/conf/eth0.100/rp_filter')).toBe('net/ipv4/conf/eth0.100/rp_filter');
    for (const bad of ['net/../../etc/passwd', 'net..ipv4', 'net.ipv4 x', '/net/ipv4', 'net.ipv4.']) expect(() => sysctlPath(bad)).toThrow(/invalid name/);
  });
});
