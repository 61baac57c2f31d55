import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as http from 'node:http';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { HostsConfig } from './hosts-config.js';
import { credentialsFromCri, parseWwwAuthenticate, ProgressTimeoutError, readAll, RegistryClient } from './registry-client.js';
import { parseReference } from './reference.js';
import { chainIdsOf } from './puller.js';
import { userOf } from '../cri/image-service.js';

const log = pino({ level: 'silent' });
let server: http.Server;
let host: string;
let dir: string;
let fails = 0;
const seen: string[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
    const u = new URL(req.url!, 'http://x');
    if (u.pathname === '/token') {
      res.end(JSON.stringify({ token: `tok-${u.searchParams.get('scope')}` }));
      return;
    }
    if (u.pathname.endsWith('/manifests/flaky')) {
      if (fails++ < 2) {
        res.writeHead(503).end('busy');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end('{"ok":1}');
      return;
    }
    if (u.pathname.endsWith('/blobs/sha256:stall')) {
      res.writeHead(200);
      res.write('partial');
      return; // never ends
    }
    if (u.pathname.includes('/secret/')) {
      if (req.headers.authorization !== 'Bearer tok-repository:secret:pull') {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${req.headers.host}/token",service="svc",scope="repository:secret:pull"` }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"secret":1}');
      return;
    }
    if (u.pathname.includes('/redirect/')) {
      res.writeHead(307, { location: `http://${req.headers.host}/storage/blob` }).end();
      return;
    }
    if (u.pathname === '/storage/blob') {
      res.end('blob-bytes');
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  dir = mkdtempSync(join(tmpdir(), 'bulkhead-regclient-'));
  mkdirSync(join(dir, 'reg.test'));
  writeFileSync(join(dir, 'reg.test', 'hosts.toml'), `server = "http://${host}"\n`);
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const client = (timeoutMs = 5000) => new RegistryClient({ hosts: new HostsConfig(dir, log), log, progressTimeoutMs: timeoutMs, retryBaseMs: 10 });

describe('registry client', () => {
  it('retries 5xx with backoff', async () => {
    const m = await client().getManifest(parseReference('reg.test/a/b:flaky'), 'flaky', undefined);
    expect(m.body.toString()).toBe('{"ok":1}');
    expect(fails).toBe(3);
  });

  it('fails a stalled body with a clear progress timeout', async () => {
    const body = await client(300).openBlob(parseReference('reg.test/a/b:x'), 'sha256:stall', undefined);
    const err = await readAll(body, 1 << 20).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProgressTimeoutError);
    expect((err as Error).message).toMatch(/no data received for 0.3s/);
  });

  it('runs the bearer token flow from WWW-Authenticate', async () => {
    const m = await client().getManifest(parseReference('reg.test/secret:1'), '1', undefined);
    expect(m.body.toString()).toBe('{"secret":1}');
    expect(seen.some((s) => s.startsWith('GET /token?service=svc&scope=repository%3Asecret%3Apull'))).toBe(true);
  });

  it('follows blob redirects', async () => {
    const body = await client().openBlob(parseReference('reg.test/redirect/x:1'), 'sha256:abc', undefined);
    expect((await readAll(body, 100)).toString()).toBe('blob-bytes');
  });
});

describe('auth and small helpers', () => {
  it('parses challenges', () => {
    expect(parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' },
    });
    expect(parseWwwAuthenticate('Basic realm="x"')?.scheme).toBe('basic');
  });

  it('decodes CRI AuthConfig', () => {
    const base = { username: '', password: '', auth: '', server_address: '', identity_token: '', registry_token: '' };
    expect(credentialsFromCri({ ...base, auth: Buffer.from('u:p:x').toString('base64') })).toEqual({ username: 'u', password: 'p:x' });
    expect(credentialsFromCri({ ...base, registry_token: 't' })).toEqual({ registryToken: 't' });
    expect(credentialsFromCri(base)).toBeUndefined();
    expect(credentialsFromCri(null)).toBeUndefined();
  });

  it('computes chain ids like containerd', () => {
    const a = 'sha256:' + 'a'.repeat(64);
    const b = 'sha256:' + 'b'.repeat(64);
    const ids = chainIdsOf([a, b]);
    expect(ids[0]).toBe(a);
    expect(ids[1]).toMatch(/^sha256:[a-f0-9]{64}$/);
  });

  it('reads uid / username from the image User', () => {
    expect(userOf('1002')).toEqual({ uid: '1002', username: '' });
    expect(userOf('1003:1004')).toEqual({ uid: '1003', username: '' });
    expect(userOf('www-data:1004')).toEqual({ username: 'www-data' });
    expect(userOf('')).toEqual({ username: '' });
  });
});

describe('TLS hosts: ca and skip_verify from hosts.toml', () => {
  it('trusts a configured CA, refuses an unknown one, and skips verification when told', async () => {
    const { execFileSync } = await import('node:child_process');
    const https = await import('node:https');
    const { readFileSync } = await import('node:fs');
    const tls = mkdtempSync(join(tmpdir(), 'bulkhead-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(tls, 'key.pem'), '-out', join(tls, 'cert.pem')], { stdio: 'ignore' });
    const srv = https.createServer({ key: readFileSync(join(tls, 'key.pem')), cert: readFileSync(join(tls, 'cert.pem')) }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end('{"tls":1}');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    try {
      for (const [name, extra] of [['ca.test', `ca = "${join(tls, 'cert.pem')}"`], ['noca.test', ''], ['skip.test', 'skip_verify = true']] as const) {
        mkdirSync(join(dir, name));
        writeFileSync(join(dir, name, 'hosts.toml'), `server = "https://127.0.0.1:${port}"\n${extra}\n`);
      }
      const c = new RegistryClient({ hosts: new HostsConfig(dir, log), log, progressTimeoutMs: 5000, attempts: 1 });
      expect((await c.getManifest(parseReference('ca.test/a:1'), '1', undefined)).body.toString()).toBe('{"tls":1}');
      await expect(c.getManifest(parseReference('noca.test/a:1'), '1', undefined)).rejects.toThrow(/self.signed|certificate/i);
      expect((await c.getManifest(parseReference('skip.test/a:1'), '1', undefined)).body.toString()).toBe('{"tls":1}');
      c.close();
    } finally {
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
      rmSync(tls, { recursive: true, force: true });
    }
  });
});
