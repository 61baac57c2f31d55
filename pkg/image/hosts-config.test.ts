import { describe, expect, it, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import pino from 'pino';
import { defaultHosts, HostsConfig, parseHostsToml } from './hosts-config.js';

const dir = mkdtempSync(join(tmpdir(), 'bulkhead-hosts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('hosts.toml', () => {
  it('parses mirrors in order, then the server', () => {
    const hosts = parseHostsToml(
      `server = "https://registry-1.docker.io"
[host."http://127.0.0.1:5000"]
  capabilities = ["pull", "resolve"]
[host."https://mirror.example.com/prefix"]
  capabilities = ["pull"]
  skip_verify = true
  [host."https://mirror.example.com/prefix".header]
    x-custom = "1"
`,
      'docker.io',
    );
    expect(hosts.map((h) => [h.origin, h.apiPath, h.capabilities, h.skipVerify])).toEqual([
      ['http://127.0.0.1:5000', '/v2', ['pull', 'resolve'], false],
      ['https://mirror.example.com', '/prefix/v2', ['pull'], true],
      ['https://registry-1.docker.io', '/v2', ['pull', 'resolve', 'push'], false],
    ]);
    expect(hosts[1]!.headers).toEqual({ 'x-custom': '1' });
  });

  it('defaults the server to https://<host>', () => {
    expect(parseHostsToml('', 'quay.io').map((h) => h.origin)).toEqual(['https://quay.io']);
  });

  it('reads CA files relative to the hosts.toml directory and honours override_path', () => {
    mkdirSync(join(dir, 'reg.local'), { recursive: true });
    writeFileSync(join(dir, 'reg.local', 'ca.crt'), 'PEM');
    writeFileSync(
      join(dir, 'reg.local', 'hosts.toml'),
      'server = "https://reg.local"\nca = "ca.crt"\n[host."https://m.local/v2/custom"]\noverride_path = true\n',
    );
    const hc = new HostsConfig(dir, pino({ level: 'silent' }));
    const hosts = hc.hostsFor('reg.local');
    expect(hosts[0]!.apiPath).toBe('/v2/custom');
    expect(hosts[1]!.ca).toEqual(['PEM']);
  });

  it('falls back to _default, then to built-in defaults; reload drops the cache', () => {
    const hc = new HostsConfig(dir, pino({ level: 'silent' }));
    expect(hc.hostsFor('other.io').map((h) => h.origin)).toEqual(['https://other.io']);
    mkdirSync(join(dir, '_default'), { recursive: true });
    writeFileSync(join(dir, '_default', 'hosts.toml'), '[host."http://127.0.0.1:5001"]\ncapabilities = ["pull","resolve"]\n');
    expect(hc.hostsFor('other.io').map((h) => h.origin)).toEqual(['https://other.io']);
    hc.reload();
    expect(hc.hostsFor('other.io').map((h) => h.origin)).toEqual(['http://127.0.0.1:5001', 'https://other.io']);
  });

  it('tries plain http first for loopback registries without configuration', () => {
    expect(defaultHosts('127.0.0.1:5000').map((h) => h.origin)).toEqual(['http://127.0.0.1:5000', 'https://127.0.0.1:5000']);
    expect(defaultHosts('docker.io').map((h) => h.origin)).toEqual(['https://registry-1.docker.io']);
  });
});
