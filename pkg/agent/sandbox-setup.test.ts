import { describe, expect, it } from 'vitest';
import type { SetupSandboxRequest__Output } from '../../api/gen/agent/bulkhead/agent/v1/SetupSandboxRequest.js';
import { networkCommands } from './sandbox-setup.js';

type Req = Pick<SetupSandboxRequest__Output, 'interfaces' | 'routes'>;
const itf = (o: Partial<Req['interfaces'][number]>): Req['interfaces'][number] =>
  ({ name: 'eth0', mac: '0a:00:00:00:00:01', guest_mac: '', mtu: 0, addresses: [], ...o }) as Req['interfaces'][number];

describe('networkCommands', () => {
  it('gives a restored clone (template MAC) the pod MAC, MTU, address and routes, in that order', () => {
    const req: Req = {
      interfaces: [itf({ guest_mac: '52:54:00:00:00:99', mtu: 1450, addresses: [{ cidr: '10.88.0.5/16' }] as Req['interfaces'][number]['addresses'] })],
      routes: [{ dst: '0.0.0.0/0', gateway: '10.88.0.1' }, { dst: '10.99.0.0/16', gateway: '' }] as Req['routes'],
    };
    const cmds = networkCommands(req, (mac) => (mac === '52:54:00:00:00:99' ? 'enp0s1' : undefined));
    expect(cmds.map((c) => c.join(' '))).toEqual([
      'ip link set lo up',
      'ip link set dev enp0s1 down',
      'ip link set dev enp0s1 address 0a:00:00:00:00:01',
      'ip link set dev enp0s1 name eth0',
      'ip link set dev eth0 mtu 1450',
      'ip addr add 10.88.0.5/16 dev eth0',
      'ip link set dev eth0 up',
      'ip route add default via 10.88.0.1',
      'ip route add 10.99.0.0/16 dev eth0',
    ]);
  });

  it('refuses an interface whose MAC no guest NIC has', () => {
    expect(() => networkCommands({ interfaces: [itf({})], routes: [] }, () => undefined)).toThrow(/no guest interface with MAC 0a:00:00:00:00:01/);
  });

  it('uses ip -6 for IPv6 routes', () => {
    const cmds = networkCommands({ interfaces: [itf({})], routes: [{ dst: '::/0', gateway: 'fd00::1' }] as Req['routes'] }, () => 'eth0');
    expect(cmds.at(-1)).toEqual(['ip', '-6', 'route', 'add', 'default', 'via', 'fd00::1']);
  });
});
