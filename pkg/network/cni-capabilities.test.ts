import { describe, it, expect } from 'vitest';
import { capabilityValues, parseQuantity } from './cni-capabilities.js';

describe('capability values', () => {
  it('maps CRI port mappings (skipping host port 0) and pod annotations', () => {
    const v = capabilityValues({
      portMappings: [
        { protocol: 'TCP', container_port: 80, host_port: 8080, host_ip: '' },
        { protocol: 'UDP', container_port: 53, host_port: 5353, host_ip: '127.0.0.1' },
        { protocol: 'TCP', container_port: 9000, host_port: 0, host_ip: '' },
      ],
      annotations: { a: 'b' },
    });
    expect(v).toEqual({
      portMappings: [
        { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
        { hostPort: 5353, containerPort: 53, protocol: 'udp', hostIP: '127.0.0.1' },
      ],
      'io.kubernetes.cri.pod-annotations': { a: 'b' },
    });
  });

  it('maps bandwidth annotations, dns and cgroup parent', () => {
    const v = capabilityValues({
      portMappings: [],
      annotations: { 'kubernetes.io/ingress-bandwidth': '10M', 'kubernetes.io/egress-bandwidth': '1Gi' },
      cgroupParent: '/kubepods/pod1',
      dns: { servers: ['10.0.0.10'], searches: ['svc.cluster.local'], options: ['ndots:5'] },
    });
    expect(v.bandwidth).toEqual({ ingressRate: 10_000_000, ingressBurst: 4294967295, egressRate: 2 ** 30, egressBurst: 4294967295 });
    expect(v.dns).toEqual({ servers: ['10.0.0.10'], searches: ['svc.cluster.local'], options: ['ndots:5'] });
    expect(v.cgroupPath).toBe('/kubepods/pod1');
  });

  it('parses quantities', () => {
    expect(parseQuantity('100')).toBe(100);
    expect(parseQuantity('1k')).toBe(1000);
    expect(parseQuantity('1.5M')).toBe(1_500_000);
    expect(parseQuantity('2Ki')).toBe(2048);
    expect(parseQuantity('1e3')).toBe(1000);
    expect(() => parseQuantity('10 megabits')).toThrow(/invalid quantity/);
  });
});
