// Client certificates (mutual TLS) and the rest of the hosts.toml / certs.d keys containerd users
// write: each `client` form against a local registry stand-in that requires a client certificate.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerCertsDirHosts, HostsConfig, parseGoDuration, parseHostsToml } from './hosts-config.js';
import { parseReference } from './reference.js';
import { RegistryClient } from './registry-client.js';

const log = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'bulkhead-mtls-'));
const pki = join(dir, 'pki');
let srv: https.Server;
let port = 0;

function selfSigned(name: string, cn: string, extra: string[] = []): void {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${cn}`, ...extra, '-keyout', join(pki, `${name}.key`), '-out', join(pki, `${name}.cert`)], { stdio: 'ignore' });
}

beforeAll(async () => {
  mkdirSync(pki);
  selfSigned('server', '127.0.0.1', ['-addext', 'subjectAltName=IP:127.0.0.1']);
  selfSigned('client', 'bulkhead-client');
  writeFileSync(join(pki, 'both.pem'), readFileSync(join(pki, 'client.cert'), 'utf8') + readFileSync(join(pki, 'client.key'), 'utf8'));
  srv = https.createServer(
    { key: readFileSync(join(pki, 'server.key')), cert: readFileSync(join(pki, 'server.cert')), ca: readFileSync(join(pki, 'client.cert')), requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate();
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end(JSON.stringify({ client: peer.subject?.CN }));
    },
  );
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  port = (srv.address() as { port: number }).port;
});
afterAll(async () => {
  srv.closeAllConnections();
  await new Promise((r) => srv.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('client certificates from hosts.toml', () => {
  it('presents the client certificate in each containerd form, and is refused without one', async () => {
    const certsD = join(dir, 'certs.d');
    const server = `server = "https://127.0.0.1:${port}"\nca = "${join(pki, 'server.cert')}"\n`;
    const hosts: Record<string, string> = {
      'pair.test': `${server}client = [["${join(pki, 'client.cert')}", "${join(pki, 'client.key')}"]]\n`,
      'combined.test': `${server}client = "${join(pki, 'both.pem')}"\n`,
      // a pair whose key is in the certificate's file, and a single-element pair relative to hosts.toml
      'relative.test': `${server}client = [["${join(pki, 'both.pem')}", ""], ["../../pki/both.pem"]]\n`,
      'none.test': server,
    };
    for (const [name, text] of Object.entries(hosts)) {
      mkdirSync(join(certsD, name), { recursive: true });
      writeFileSync(join(certsD, name, 'hosts.toml'), text);
    }
    const c = new RegistryClient({ hosts: new HostsConfig(certsD, log), log, progressTimeoutMs: 5000, attempts: 1 });
    try {
      for (const name of ['pair.test', 'combined.test', 'relative.test']) {
        const m = await c.getManifest(parseReference(`${name}/a:1`), '1', undefined);
        expect(JSON.parse(m.body.toString()), name).toEqual({ client: 'bulkhead-client' });
      }
      await expect(c.getManifest(parseReference('none.test/a:1'), '1', undefined)).rejects.toThrow(/certificate|handshake|socket hang up|ECONNRESET|alert/i);
    } finally {
      c.close();
    }
  });

  it('reads a Docker-style certs.d/<host>/ dir (no hosts.toml): *.crt CAs, *.cert + *.key pairs', () => {
    const hostDir = join(dir, 'docker.d', 'registry.example');
    mkdirSync(hostDir, { recursive: true });
    writeFileSync(join(hostDir, 'ca.crt'), readFileSync(join(pki, 'server.cert')));
    writeFileSync(join(hostDir, 'me.cert'), readFileSync(join(pki, 'client.cert')));
    writeFileSync(join(hostDir, 'me.key'), readFileSync(join(pki, 'client.key')));
    const [h] = dockerCertsDirHosts('registry.example', hostDir);
    expect(h!.origin).toBe('https://registry.example');
    expect(h!.ca).toHaveLength(1);
    expect(h!.client).toEqual([{ cert: readFileSync(join(pki, 'client.cert'), 'utf8'), key: readFileSync(join(pki, 'client.key'), 'utf8') }]);
    // HostsConfig takes that dir when hosts.toml is absent
    expect(new HostsConfig(join(dir, 'docker.d'), log).hostsFor('registry.example')[0]!.client).toHaveLength(1);
    writeFileSync(join(hostDir, 'lonely.cert'), 'x');
    expect(() => dockerCertsDirHosts('registry.example', hostDir)).toThrow(/no lonely.key beside it/);
  });
});

describe('other hosts.toml keys', () => {
  it('dial_timeout takes Go durations', () => {
    expect(parseGoDuration('500ms')).toBe(500);
    expect(parseGoDuration('1m30s')).toBe(90_000);
    expect(parseGoDuration('2s')).toBe(2000);
    expect(() => parseGoDuration('5')).toThrow(/invalid duration/);
    expect(parseHostsToml('server = "https://r.example"\ndial_timeout = "3s"\n', 'r.example')[0]!.dialTimeoutMs).toBe(3000);
  });

  it('warns about keys it does not honour instead of ignoring them silently', () => {
    const warnings: string[] = [];
    parseHostsToml('server = "https://r.example"\nmirror_magic = true\n[host."https://m.example"]\n  capabilities = ["pull"]\n  ttl = 3\n', 'r.example', 'hosts.toml', (m) => warnings.push(m));
    expect(warnings).toEqual(['hosts.toml: key "mirror_magic" is not supported and is ignored', 'hosts.toml: [host."https://m.example"] key "ttl" is not supported and is ignored']);
  });
});
