// Registry host configuration in containerd's certs.d format: <dir>/<host>/hosts.toml, with
// <dir>/_default/hosts.toml as the fallback. For a pull, the [host."..."] mirrors are tried in file
// order, then the upstream `server`. Plain http is selected by the URL scheme.
import { readFileSync, existsSync } from 'node:fs';
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
  headers: Record<string, string>;
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
  const ca = toStringArray(table.ca).map((p) => readFileSync(isAbsolute(p) ? p : join(baseDir, p), 'utf8'));
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
    headers,
  };
}

/** Parses one hosts.toml text for the image's registry host `registryHost`. */
export function parseHostsToml(text: string, registryHost: string, file = 'hosts.toml'): RegistryHost[] {
  const doc = parseToml(text) as Record<string, unknown>;
  const baseDir = dirname(file);
  const hosts: RegistryHost[] = [];
  const hostTables = (doc.host ?? {}) as Record<string, unknown>;
  for (const [url, t] of Object.entries(hostTables)) {
    hosts.push(toHost(url, (t ?? {}) as Record<string, unknown>, baseDir));
  }
  const server = typeof doc.server === 'string' ? doc.server : defaultServer(registryHost);
  hosts.push(toHost(server, doc, baseDir));
  return hosts;
}

/** The hosts to try for a registry when nothing is configured: https, plus http for loopback. */
export function defaultHosts(registryHost: string): RegistryHost[] {
  const base: RegistryHost = { origin: defaultServer(registryHost), apiPath: '/v2', capabilities: ALL_CAPS, skipVerify: false, ca: [], headers: {} };
  if (LOOPBACK.test(registryHost)) return [{ ...base, origin: `http://${registryHost}` }, base];
  return [base];
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
      if (!existsSync(file)) continue;
      try {
        // Without `server`, the registry itself (https://<host>) comes after the mirrors, also for _default.
        hosts = parseHostsToml(readFileSync(file, 'utf8'), registryHost, file);
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
