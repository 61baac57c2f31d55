// Registry host configuration in containerd's certs.d format: <dir>/<host>/hosts.toml, with
// <dir>/_default/hosts.toml as the fallback. For a pull, the [host."..."] mirrors are tried in file
// order, then the upstream `server`. Plain http is selected by the URL scheme. A <dir>/<host>/
// without hosts.toml is read the Docker way, as containerd does: *.crt are CAs, *.cert + *.key
// (same base name) client certificates, for https://<host>.
import { readFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join, isAbsolute, dirname } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import type { Logger } from 'pino';

export type HostCapability = 'pull' | 'resolve' | 'push';

export interface RegistryHost {
  /** scheme://host[:port], no path. */
  origin: string;
  /** URL path prefix of the v2 API, e.g. "/v2". */
  apiPath: string;
  capabilities: HostCapability[];
  skipVerify: boolean;
  /** PEM contents of the extra CA certificates. */
  ca: string[];
  /** Client certificates (PEM) for registries that ask for one (mutual TLS). */
  client: ClientCert[];
  /** How long connecting may take (hosts.toml dial_timeout); undefined: the OS's. */
  dialTimeoutMs?: number;
  headers: Record<string, string>;
}

export interface ClientCert {
  cert: string;
  key: string;
}

/** hosts.toml keys of a host table (and the top level) this parser honours; others are warned about. */
const HOST_KEYS = new Set(['capabilities', 'ca', 'client', 'skip_verify', 'header', 'override_path', 'dial_timeout']);

/** A Go duration ("500ms", "1m30s", "2s"), as containerd's dial_timeout takes, in ms. */
export function parseGoDuration(v: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(v)) throw new Error(`invalid duration "${v}"`);
  let ms = 0;
  for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * units[m[2]!]!;
  return ms;
}

const ALL_CAPS: HostCapability[] = ['pull', 'resolve', 'push'];
const LOOPBACK = /^(localhost|127(?:\.\d+){3}|\[::1\])(?::\d+)?$/;

function defaultServer(registryHost: string): string {
  if (registryHost === 'docker.io') return 'https://registry-1.docker.io';
  return `https://${registryHost}`;
}

function toStringArray(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

function toHost(url: string, table: Record<string, unknown>, baseDir: string): RegistryHost {
  const u = new URL(url.includes('://') ? url : `https://${url}`);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`unsupported scheme in ${url}`);
  let apiPath = u.pathname.replace(/\/+$/, '');
  if (apiPath === '') apiPath = '/v2';
  else if (table.override_path !== true && !apiPath.endsWith('/v2')) apiPath += '/v2';
  const caps = table.capabilities === undefined ? ALL_CAPS : toStringArray(table.capabilities);
  const read = (p: string): string => readFileSync(isAbsolute(p) ? p : join(baseDir, p), 'utf8');
  const ca = toStringArray(table.ca).map(read);
  const client = clientCerts(table.client, read);
  const dialTimeoutMs = typeof table.dial_timeout === 'string' ? parseGoDuration(table.dial_timeout) : undefined;
  const headers: Record<string, string> = {};
  if (table.header && typeof table.header === 'object') {
    for (const [k, v] of Object.entries(table.header as Record<string, unknown>)) {
      const vals = toStringArray(v);
      if (vals.length) headers[k] = vals.join(', ');
    }
  }
  return {
    origin: `${u.protocol}//${u.host}`,
    apiPath,
    capabilities: caps.filter((c): c is HostCapability => (ALL_CAPS as string[]).includes(c)),
    skipVerify: table.skip_verify === true,
    ca,
    client,
    ...(dialTimeoutMs !== undefined ? { dialTimeoutMs } : {}),
    headers,
  };
}

/**
 * containerd's `client` forms: "both.pem" (certificate and key in one file), a list of such files,
 * or a list of ["cert.pem", "key.pem"] pairs (an empty key: the key is in the certificate's file).
 */
function clientCerts(v: unknown, read: (p: string) => string): ClientCert[] {
  const entries = typeof v === 'string' ? [v] : Array.isArray(v) ? v : [];
  return entries.map((e: unknown) => {
    if (typeof e === 'string') {
      const pem = read(e);
      return { cert: pem, key: pem };
    }
    if (Array.isArray(e) && typeof e[0] === 'string' && (e[1] === undefined || typeof e[1] === 'string')) {
      const cert = read(e[0]);
      return { cert, key: e[1] ? read(e[1]) : cert };
    }
    throw new Error(`invalid client entry ${JSON.stringify(e)}`);
  });
}

function unknownKeys(table: Record<string, unknown>, allowed: Set<string>): string[] {
  return Object.keys(table).filter((k) => !allowed.has(k));
}

/** Parses one hosts.toml text for the image's registry host `registryHost`. */
export function parseHostsToml(text: string, registryHost: string, file = 'hosts.toml', warn: (msg: string) => void = () => undefined): RegistryHost[] {
  const doc = parseToml(text) as Record<string, unknown>;
  const baseDir = dirname(file);
  const hosts: RegistryHost[] = [];
  const hostTables = (doc.host ?? {}) as Record<string, unknown>;
  const topKeys = new Set([...HOST_KEYS, 'server', 'host']);
  for (const k of unknownKeys(doc, topKeys)) warn(`${file}: key "${k}" is not supported and is ignored`);
  for (const [url, t] of Object.entries(hostTables)) {
    for (const k of unknownKeys((t ?? {}) as Record<string, unknown>, HOST_KEYS)) warn(`${file}: [host."${url}"] key "${k}" is not supported and is ignored`);
    hosts.push(toHost(url, (t ?? {}) as Record<string, unknown>, baseDir));
  }
  const server = typeof doc.server === 'string' ? doc.server : defaultServer(registryHost);
  hosts.push(toHost(server, doc, baseDir));
  return hosts;
}

/** The hosts to try for a registry when nothing is configured: https, plus http for loopback. */
export function defaultHosts(registryHost: string): RegistryHost[] {
  const base: RegistryHost = { origin: defaultServer(registryHost), apiPath: '/v2', capabilities: ALL_CAPS, skipVerify: false, ca: [], client: [], headers: {} };
  if (LOOPBACK.test(registryHost)) return [{ ...base, origin: `http://${registryHost}` }, base];
  return [base];
}

/** A host dir without hosts.toml, read the Docker way: *.crt CAs, *.cert + *.key client pairs. */
export function dockerCertsDirHosts(registryHost: string, hostDir: string): RegistryHost[] {
  const files = readdirSync(hostDir).sort();
  const ca = files.filter((f) => f.endsWith('.crt')).map((f) => readFileSync(join(hostDir, f), 'utf8'));
  const client: ClientCert[] = [];
  for (const f of files.filter((x) => x.endsWith('.cert'))) {
    const key = `${f.slice(0, -'.cert'.length)}.key`;
    if (!files.includes(key)) throw new Error(`${join(hostDir, f)} has no ${key} beside it`);
    client.push({ cert: readFileSync(join(hostDir, f), 'utf8'), key: readFileSync(join(hostDir, key), 'utf8') });
  }
  return defaultHosts(registryHost).map((h) => (h.origin.startsWith('https:') ? { ...h, ca, client } : h));
}

/** Loads and caches hosts.toml files from a certs.d directory; reload() drops the cache. */
export class HostsConfig {
  private cache = new Map<string, RegistryHost[]>();

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
  ) {}

  reload(): void {
    this.cache.clear();
    this.log.info({ dir: this.dir }, 'registry host configuration reloaded');
  }

  /** Hosts to try for `registryHost`, in order. Malformed files are logged and fall back to defaults. */
  hostsFor(registryHost: string): RegistryHost[] {
    const cached = this.cache.get(registryHost);
    if (cached) return cached;
    let hosts: RegistryHost[] | undefined;
    for (const name of [registryHost, '_default']) {
      const file = join(this.dir, name, 'hosts.toml');
      if (!existsSync(file)) {
        const hostDir = join(this.dir, name);
        if (name !== registryHost || !isDir(hostDir)) continue;
        try {
          hosts = dockerCertsDirHosts(registryHost, hostDir);
        } catch (e) {
          this.log.warn({ dir: hostDir, err: e }, 'ignoring unreadable certificate directory');
        }
        break;
      }
      try {
        // Without `server`, the registry itself (https://<host>) comes after the mirrors, also for _default.
        hosts = parseHostsToml(readFileSync(file, 'utf8'), registryHost, file, (msg) => this.log.warn({ file }, msg));
      } catch (e) {
        this.log.warn({ file, err: e }, 'ignoring malformed hosts.toml');
        hosts = undefined;
      }
      break;
    }
    hosts ??= defaultHosts(registryHost);
    this.cache.set(registryHost, hosts);
    return hosts;
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
