import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CniPluginError, parseResult, pluginFailure, podNetworkStatus } from './cni-result.js';

// Recorded from Debian's containernetworking-plugins 1.1.1 bridge + host-local.
const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'testdata', name), 'utf8');

describe('CNI results', () => {
  it('parses a 1.0.0 result: pod IP from the sandbox interface', () => {
    const s = podNetworkStatus(parseResult(fixture('bridge-1.1.1-result-1.0.0.json'), 'bridge'));
    expect(s.ips).toEqual(['10.251.7.2']);
    expect(s.ipConfigs).toEqual([{ address: '10.251.7.2/24', gateway: '10.251.7.1', interface: 'eth0' }]);
    expect(s.interfaces.map((i) => i.name)).toEqual(['bhkr32435', 'veth000a7ad5', 'eth0']);
    expect(s.interfaces[2]).toEqual({ name: 'eth0', mac: 'aa:9a:8d:c6:da:01', sandbox: '/run/bulkhead/pods/p1/ns/net' });
    expect(s.routes).toEqual([{ dst: '0.0.0.0/0' }]);
    expect(s.dns).toBeUndefined();
  });

  it('parses a 0.4.0 result (ips carry "version")', () => {
    const r = parseResult(fixture('bridge-1.1.1-result-0.4.0.json'), 'bridge');
    expect(r.cniVersion).toBe('0.4.0');
    expect(podNetworkStatus(r).ips).toEqual(['10.251.7.3']);
  });

  it('converts a 0.2.0 result and orders IPv4 before IPv6', () => {
    const s = podNetworkStatus(parseResult(fixture('legacy-result-0.2.0.json'), 'x'));
    expect(s.ips).toEqual(['10.1.0.5', 'fd00:1::5']);
    expect(s.routes).toEqual([{ dst: '0.0.0.0/0' }]);
    expect(s.dns).toEqual({ nameservers: ['10.1.0.10'] });
  });

  it('keeps the plugin order within a family, IPv4 first, only sandbox IPs when known', () => {
    const r = parseResult(
      JSON.stringify({
        cniVersion: '1.0.0',
        interfaces: [{ name: 'br' }, { name: 'eth0', sandbox: '/ns' }],
        ips: [
          { address: 'fd00::2/64', interface: 1 },
          { address: '10.0.0.9/24', interface: 0 },
          { address: '10.0.0.2/24', interface: 1 },
          { address: '10.0.0.3/24', interface: 1 },
        ],
      }),
      'x',
    );
    expect(podNetworkStatus(r).ips).toEqual(['10.0.0.2', '10.0.0.3', 'fd00::2']);
  });

  it('rejects a result that is not JSON', () => {
    expect(() => parseResult('oops', 'bridge')).toThrow(CniPluginError);
    expect(() => parseResult('oops', 'bridge')).toThrow(/bridge ADD failed \(code 6/);
  });

  it('turns error results into clear errors', () => {
    const e = pluginFailure('bridge', 'ADD', 'exit status 1', fixture('bridge-1.1.1-error-no-ranges.json'), '');
    expect(e.code).toBe(999);
    expect(e.message).toBe('CNI plugin bridge ADD failed (code 999): no IP ranges specified');
    const spec = pluginFailure('host-local', 'ADD', 'exit status 1', '{"cniVersion":"1.0.0","code":11,"msg":"busy","details":"lock held"}', '');
    expect(spec.message).toBe('CNI plugin host-local ADD failed (code 11: try again later): busy: lock held');
    expect(spec.retryable).toBe(true);
    const raw = pluginFailure('fake', 'DEL', 'exit status 2', '', 'boom\n');
    expect(raw.message).toBe('CNI plugin fake DEL failed: exit status 2: boom');
  });
});
