import { describe, expect, it } from 'vitest';
import { parseIpLink } from './tap-network.js';

describe('parseIpLink', () => {
  it('reads MAC and MTU from `ip -o link show` (a veth in a pod netns)', () => {
    const line = '2: eth0@if12: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UP mode DEFAULT group default qlen 1000\\    link/ether 3A:1f:9c:00:aa:01 brd ff:ff:ff:ff:ff:ff link-netnsid 0';
    expect(parseIpLink(line)).toEqual({ mac: '3a:1f:9c:00:aa:01', mtu: 1450 });
  });
  it('gives nothing for what it cannot trust', () => {
    expect(parseIpLink('1: lo: <LOOPBACK,UP> mtu 65536 qdisc noqueue\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00')).toEqual({ mac: undefined, mtu: undefined });
    expect(parseIpLink('')).toEqual({ mac: undefined, mtu: undefined });
  });
});
