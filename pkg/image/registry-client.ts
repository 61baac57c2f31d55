// OCI distribution v2 client over node:http/https (not fetch: per-host CA / skip_verify need an
// agent, and the socket idle timeout gives "no progress" detection for free).
// Hosts come from certs.d (mirrors first, then the upstream); auth is negotiated from
// WWW-Authenticate (Bearer token flow or Basic) with credentials from the CRI AuthConfig.
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type * as cri from '../api/cri-types.js';
import type { HostsConfig, RegistryHost } from './hosts-config.js';
import type { ImageReference } from './reference.js';

export interface RegistryCredentials {
  username?: string;
  password?: string;
  identityToken?: string;
  registryToken?: string;
  serverAddress?: string;
}

/** Decodes the CRI AuthConfig (username/password, or base64 "user:pass" in `auth`, or tokens). */
export function credentialsFromCri(a: cri.AuthConfig__Output | null | undefined): RegistryCredentials | undefined {
  if (!a) return undefined;
  const c: RegistryCredentials = {};
  if (a.username || a.password) {
    c.username = a.username;
    c.password = a.password;
  } else if (a.auth) {
    const decoded = Buffer.from(a.auth, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i > 0) {
      c.username = decoded.slice(0, i);
      c.password = decoded.slice(i + 1);
    }
  }
  if (a.identity_token) c.identityToken = a.identity_token;
  if (a.registry_token) c.registryToken = a.registry_token;
  if (a.server_address) c.serverAddress = a.server_address;
  return Object.keys(c).length ? c : undefined;
}

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** A registry answered, but not with what we asked for (status kept for error mapping). */
export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export class ProgressTimeoutError extends Error {
  override readonly name = 'ProgressTimeoutError';
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

export function parseWwwAuthenticate(h: string): Challenge | undefined {
  const m = /^\s*(\w+)\s*(.*)$/.exec(h);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2]!)) !== null) params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  return { scheme: m[1]!.toLowerCase(), params };
}

export interface RegistryClientOptions {
  hosts: HostsConfig;
  log: Logger;
  progressTimeoutMs: number;
  /** Attempts per host for 5xx / connection errors (backoff doubles from retryBaseMs). */
  attempts?: number;
  retryBaseMs?: number;
}

interface RequestOpts {
  method: 'GET' | 'HEAD';
  accept?: string;
  creds: RegistryCredentials | undefined;
  repo: string;
  signal: AbortSignal | undefined;
}

const RETRYABLE_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNABORTED']);

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    }, { once: true });
  });
}

export class RegistryClient {
  private readonly agents = new Map<string, http.Agent>();
  /** Authorization header to send to (origin, repo, credential identity) once negotiated. */
  private readonly authCache = new Map<string, { header: string; expires: number }>();
  private readonly attempts: number;
  private readonly retryBaseMs: number;

  constructor(private readonly opts: RegistryClientOptions) {
    this.attempts = opts.attempts ?? 4;
    this.retryBaseMs = opts.retryBaseMs ?? 250;
  }

  close(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }

  private agentFor(host: RegistryHost): http.Agent {
    const tlsMaterial = createHash('sha256').update(JSON.stringify([host.ca, host.client])).digest('hex');
    const key = `${host.origin}|${host.skipVerify}|${tlsMaterial}`;
    let a = this.agents.get(key);
    if (!a) {
      const client = host.client.length ? { cert: host.client.map((c) => c.cert), key: host.client.map((c) => c.key) } : {};
      a = host.origin.startsWith('https:')
        ? new https.Agent({ keepAlive: true, maxSockets: 32, rejectUnauthorized: !host.skipVerify, ...(host.ca.length ? { ca: [...host.ca] } : {}), ...client })
        : new http.Agent({ keepAlive: true, maxSockets: 32 });
      this.agents.set(key, a);
    }
    return a;
  }

  /** One HTTP exchange; follows redirects (dropping Authorization across origins). */
  private send(host: RegistryHost, url: URL, o: RequestOpts, authorization: string | undefined, redirects = 0): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...host.headers, 'user-agent': 'bulkhead/0.1' };
      if (o.accept) headers.accept = o.accept;
      if (authorization && url.origin === host.origin) headers.authorization = authorization;
      const mod = url.protocol === 'https:' ? https : http;
      const agent = url.origin === host.origin ? this.agentFor(host) : undefined;
      const req = mod.request(url, { method: o.method, headers, agent, signal: o.signal });
      const timeoutMs = this.opts.progressTimeoutMs;
      let response: http.IncomingMessage | undefined;
      // Socket idle timeout = no bytes in either direction, while waiting for headers or body.
      req.setTimeout(timeoutMs, () => {
        const err = new ProgressTimeoutError(`registry ${url.host}: no data received for ${timeoutMs / 1000}s (${o.method} ${url.pathname})`);
        if (response) response.destroy(err);
        req.destroy(err);
      });
      // dial_timeout: from the request until its socket connects (a reused keep-alive socket is connected).
      const dialMs = url.origin === host.origin ? host.dialTimeoutMs : undefined;
      if (dialMs !== undefined) {
        const dial = setTimeout(() => req.destroy(new Error(`registry ${url.host}: not connected within ${dialMs} ms (dial_timeout)`)), dialMs);
        const connected = (): void => clearTimeout(dial);
        req.on('socket', (sock) => (sock.connecting ? sock.once('connect', connected) : connected()));
        req.once('close', connected);
      }
      req.on('error', reject);
      req.on('response', (res) => {
        response = res;
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location) {
          res.resume();
          if (redirects >= 5) {
            reject(new RegistryError(`too many redirects from ${url.host}`, status));
            return;
          }
          const next = new URL(res.headers.location, url);
          this.send(host, next, o, next.origin === host.origin ? authorization : undefined, redirects + 1).then(resolve, reject);
          return;
        }
        resolve(res);
      });
      req.end();
    });
  }

  private cacheKey(host: RegistryHost, repo: string, creds: RegistryCredentials | undefined): string {
    return `${host.origin}|${repo}|${creds?.username ?? ''}|${creds?.identityToken ? 'id' : ''}|${creds?.registryToken ? 'rt' : ''}`;
  }

  private credsFor(host: RegistryHost, creds: RegistryCredentials | undefined): RegistryCredentials | undefined {
    if (!creds?.serverAddress) return creds;
    const want = creds.serverAddress.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    return want === new URL(host.origin).host || want === 'index.docker.io' || want === 'docker.io' ? creds : undefined;
  }

  /** Answers a 401 challenge: returns the Authorization header to retry with, or undefined. */
  private async authorize(host: RegistryHost, challenge: Challenge, o: RequestOpts, creds: RegistryCredentials | undefined): Promise<{ header: string; ttl: number } | undefined> {
    if (challenge.scheme === 'basic') {
      if (!creds?.username) return undefined;
      return { header: `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}`, ttl: 3600_000 };
    }
    if (challenge.scheme !== 'bearer') return undefined;
    if (creds?.registryToken) return { header: `Bearer ${creds.registryToken}`, ttl: 3600_000 };
    const realm = challenge.params.realm;
    if (!realm) return undefined;
    const u = new URL(realm);
    const service = challenge.params.service;
    const scope = challenge.params.scope ?? `repository:${o.repo}:pull`;
    let res: http.IncomingMessage;
    if (creds?.identityToken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'bulkhead', scope });
      if (service) form.set('service', service);
      res = await this.post(u, form.toString(), o.signal);
    } else {
      if (service) u.searchParams.set('service', service);
      u.searchParams.set('scope', scope);
      const auth = creds?.username ? `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}` : undefined;
      const tokenHost: RegistryHost = { origin: u.origin, apiPath: '', capabilities: [], skipVerify: host.skipVerify, ca: host.ca, client: host.client, headers: {} };
      res = await this.send(tokenHost, u, { ...o, method: 'GET', accept: 'application/json' }, auth);
    }
    const body = await readAll(res, 1 << 20);
    if ((res.statusCode ?? 0) !== 200) throw new RegistryError(`token server ${u.host} answered ${res.statusCode}: ${body.toString('utf8').slice(0, 200)}`, res.statusCode ?? 0);
    const tok = JSON.parse(body.toString('utf8')) as { token?: string; access_token?: string; expires_in?: number };
    const token = tok.token ?? tok.access_token;
    if (!token) throw new RegistryError(`token server ${u.host} returned no token`, 500);
    return { header: `Bearer ${token}`, ttl: Math.max(30, (tok.expires_in ?? 60) - 10) * 1000 };
  }

  private post(u: URL, body: string, signal: AbortSignal | undefined): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const mod = u.protocol === 'https:' ? https : http;
      const req = mod.request(u, { method: 'POST', signal, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } });
      req.setTimeout(this.opts.progressTimeoutMs, () => req.destroy(new ProgressTimeoutError(`token server ${u.host}: no data received`)));
      req.on('error', reject);
      req.on('response', resolve);
      req.end(body);
    });
  }

  /** GET/HEAD with auth negotiation and retries on one host. Returns a 2xx response or throws. */
  private async requestOnHost(host: RegistryHost, path: string, o: RequestOpts, lastHost: boolean): Promise<http.IncomingMessage> {
    const url = new URL(`${host.origin}${host.apiPath}/${o.repo}/${path}`);
    const creds = this.credsFor(host, o.creds);
    const key = this.cacheKey(host, o.repo, creds);
    let lastErr: unknown;
    for (let attempt = 0; attempt < this.attempts; attempt++) {
      if (attempt > 0) await sleep(this.retryBaseMs * 2 ** (attempt - 1), o.signal);
      try {
        const cached = this.authCache.get(key);
        let res = await this.send(host, url, o, cached && cached.expires > Date.now() ? cached.header : undefined);
        if (res.statusCode === 401) {
          const challenge = parseWwwAuthenticate(String(res.headers['www-authenticate'] ?? ''));
          res.resume();
          const auth = challenge ? await this.authorize(host, challenge, o, creds) : undefined;
          if (!auth) throw new RegistryError(`${url.host}: authentication required for ${o.repo}`, 401);
          this.authCache.set(key, { header: auth.header, expires: Date.now() + auth.ttl });
          res = await this.send(host, url, o, auth.header);
        }
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) return res;
        const text = o.method === 'GET' ? (await readAll(res, 64 * 1024).catch(() => Buffer.alloc(0))).toString('utf8').slice(0, 300) : (res.resume(), '');
        const err = new RegistryError(`${url.host}: ${o.method} ${url.pathname} answered ${status} ${text}`.trim(), status);
        if (status >= 500 || status === 429 || status === 408) {
          lastErr = err;
          this.opts.log.warn({ host: url.host, status, attempt }, 'registry request failed, retrying');
          continue;
        }
        if (status === 401) this.authCache.delete(key);
        throw err;
      } catch (e) {
        if (o.signal?.aborted) throw e;
        const code = (e as NodeJS.ErrnoException).code;
        // A refused connection to a mirror means it is down: go to the next host at once.
        if (code === 'ECONNREFUSED' && !lastHost) throw e;
        if (e instanceof ProgressTimeoutError || (code && RETRYABLE_CODES.has(code))) {
          lastErr = e;
          this.opts.log.warn({ host: url.host, err: (e as Error).message, attempt }, 'registry connection failed, retrying');
          continue;
        }
        throw e;
      }
    }
    throw lastErr;
  }

  /** Tries each host that has `capability`, in order; the last error is thrown if all fail. */
  private async request(ref: ImageReference, capability: 'pull' | 'resolve', path: string, o: Omit<RequestOpts, 'repo'>): Promise<http.IncomingMessage> {
    const hosts = this.opts.hosts.hostsFor(ref.domain).filter((h) => h.capabilities.includes(capability));
    if (hosts.length === 0) throw new RegistryError(`no registry host for ${ref.domain} has the ${capability} capability`, 404);
    let lastErr: unknown;
    // A host that answered (404, 401…) explains the failure better than one that was unreachable.
    let answered: RegistryError | undefined;
    for (const [i, host] of hosts.entries()) {
      try {
        return await this.requestOnHost(host, path, { ...o, repo: ref.path }, i === hosts.length - 1);
      } catch (e) {
        if (o.signal?.aborted) throw e;
        lastErr = e;
        if (e instanceof RegistryError && e.status < 500 && !answered) answered = e;
        this.opts.log.debug({ host: host.origin, err: (e as Error).message }, 'registry host failed, trying the next');
      }
    }
    throw answered ?? lastErr;
  }

  /** The manifest (or index) for a tag or digest: raw bytes, media type. */
  async getManifest(ref: ImageReference, tagOrDigest: string, creds: RegistryCredentials | undefined, signal?: AbortSignal): Promise<{ body: Buffer; mediaType: string }> {
    const capability = tagOrDigest.includes(':') ? 'pull' : 'resolve';
    const res = await this.request(ref, capability, `manifests/${tagOrDigest}`, { method: 'GET', accept: MANIFEST_ACCEPT, creds, signal });
    const body = await readAll(res, 4 << 20);
    return { body, mediaType: String(res.headers['content-type'] ?? '').split(';')[0]!.trim() };
  }

  /** A streaming blob body (the caller verifies it). */
  async openBlob(ref: ImageReference, digest: string, creds: RegistryCredentials | undefined, signal?: AbortSignal): Promise<Readable> {
    return this.request(ref, 'pull', `blobs/${digest}`, { method: 'GET', creds, signal });
  }
}

export async function readAll(res: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    n += (c as Buffer).length;
    if (n > max) {
      res.destroy();
      throw new RegistryError(`response larger than ${max} bytes`, 500);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
