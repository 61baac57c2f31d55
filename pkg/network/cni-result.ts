// CNI results: the success result of ADD (0.1.0/0.2.0 "ip4/ip6" form, 0.3.x/0.4.0 and 1.x "ips"
// form) normalised to what CRI reports, and the error result plugins print on failure.

export interface CniInterface {
  name: string;
  mac?: string;
  sandbox?: string;
}
export interface CniIpConfig {
  /** "10.88.0.5/16" */
  address: string;
  gateway?: string;
  /** Index into interfaces. */
  interface?: number;
}
export interface CniRoute {
  dst: string;
  gw?: string;
}
export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}
/** A result in the 0.3.0+ shape (older shapes are converted to it). */
export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIpConfig[];
  routes?: CniRoute[];
  dns?: CniDns;
}

export interface PodNetworkStatus {
  /** Pod IPs without prefix length: primary first, IPv4 before IPv6. */
  ips: string[];
  /** The same addresses with prefix length and gateway (what a micro-VM guest needs to configure its NIC). */
  ipConfigs: { address: string; gateway?: string; interface?: string }[];
  interfaces: { name: string; mac: string; sandbox?: string }[];
  routes: { dst: string; gw?: string }[];
  dns?: { nameservers?: string[]; search?: string[]; options?: string[] };
}

/** CNI spec error codes (1-99 are reserved by the spec). */
const ERROR_CODES: Record<number, string> = {
  1: 'incompatible CNI version',
  2: 'unsupported field in network configuration',
  3: 'container unknown or does not exist',
  4: 'invalid necessary environment variables',
  5: 'I/O failure',
  6: 'failed to decode content',
  7: 'invalid network config',
  11: 'try again later',
  50: 'the plugin is not available',
  51: 'the plugin is not available; re-trying later may help',
};

export class CniPluginError extends Error {
  constructor(
    readonly plugin: string,
    readonly command: string,
    readonly code: number | undefined,
    readonly msg: string,
    readonly details: string,
  ) {
    const what = code !== undefined ? ` (code ${code}${ERROR_CODES[code] ? `: ${ERROR_CODES[code]}` : ''})` : '';
    super(`CNI plugin ${plugin} ${command} failed${what}: ${msg}${details ? `: ${details}` : ''}`);
    this.name = 'CniPluginError';
  }
  /** CNI code 11: a transient condition, worth retrying. */
  get retryable(): boolean {
    return this.code === 11 || this.code === 51;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Builds the error for a plugin that exited non-zero: its stdout error JSON if any, else stderr. */
export function pluginFailure(plugin: string, command: string, exit: string, stdout: string, stderr: string): CniPluginError {
  try {
    const e: unknown = JSON.parse(stdout);
    if (isObject(e) && (typeof e.code === 'number' || typeof e.msg === 'string')) {
      return new CniPluginError(
        plugin,
        command,
        typeof e.code === 'number' ? e.code : undefined,
        typeof e.msg === 'string' ? e.msg : 'error',
        typeof e.details === 'string' ? e.details : '',
      );
    }
  } catch {
    /* not JSON: fall back to the raw output */
  }
  const text = (stderr.trim() || stdout.trim() || 'no output').slice(0, 2000);
  return new CniPluginError(plugin, command, undefined, `${exit}`, text);
}

/** Parses a plugin's ADD stdout into a result in the 0.3.0+ shape. */
export function parseResult(stdout: string, plugin: string): CniResult {
  let raw: unknown;
  try {
    raw = JSON.parse(stdout);
  } catch (e) {
    throw new CniPluginError(plugin, 'ADD', 6, 'invalid result JSON', (e as Error).message);
  }
  if (!isObject(raw)) throw new CniPluginError(plugin, 'ADD', 6, 'result is not a JSON object', '');
  return normaliseResult(raw);
}

/** Converts any result version to the 0.3.0+ shape (what 0.4.0 and 1.x results already are). */
export function normaliseResult(raw: Record<string, unknown>): CniResult {
  const cniVersion = typeof raw.cniVersion === 'string' ? raw.cniVersion : '0.1.0';
  const dns = isObject(raw.dns) ? (raw.dns as CniDns) : undefined;
  if (!('ips' in raw) && !('interfaces' in raw) && ('ip4' in raw || 'ip6' in raw)) {
    // 0.1.0 / 0.2.0: {ip4: {ip, gateway, routes}, ip6: {...}}
    const ips: CniIpConfig[] = [];
    const routes: CniRoute[] = [];
    for (const key of ['ip4', 'ip6']) {
      const v = raw[key];
      if (!isObject(v) || typeof v.ip !== 'string') continue;
      ips.push({ address: v.ip, ...(typeof v.gateway === 'string' ? { gateway: v.gateway } : {}) });
      if (Array.isArray(v.routes)) for (const r of v.routes) if (isObject(r) && typeof r.dst === 'string') routes.push(r as unknown as CniRoute);
    }
    return { cniVersion, ips, routes, interfaces: [], ...(dns ? { dns } : {}) };
  }
  const list = <T>(v: unknown): T[] => (Array.isArray(v) ? (v.filter(isObject) as T[]) : []);
  return {
    cniVersion,
    interfaces: list<CniInterface>(raw.interfaces),
    ips: list<CniIpConfig>(raw.ips).filter((ip) => typeof ip.address === 'string'),
    routes: list<CniRoute>(raw.routes).filter((r) => typeof r.dst === 'string'),
    ...(dns ? { dns } : {}),
  };
}

function stripPrefix(cidr: string): string {
  return cidr.split('/')[0]!;
}

/**
 * What CRI reports: the pod's IPs (those on the pod-side interface when the result says which,
 * keeping the plugin's order but IPv4 first), its interfaces, routes and DNS.
 */
export function podNetworkStatus(result: CniResult): PodNetworkStatus {
  const interfaces = result.interfaces ?? [];
  const all = result.ips ?? [];
  const inSandbox = all.filter((ip) => ip.interface !== undefined && interfaces[ip.interface]?.sandbox);
  const chosen = inSandbox.length ? inSandbox : all;
  const ordered = [...chosen.filter((ip) => !ip.address.includes(':')), ...chosen.filter((ip) => ip.address.includes(':'))];
  const status: PodNetworkStatus = {
    ips: [...new Set(ordered.map((ip) => stripPrefix(ip.address)))],
    ipConfigs: ordered.map((ip) => ({
      address: ip.address,
      ...(ip.gateway ? { gateway: ip.gateway } : {}),
      ...(ip.interface !== undefined && interfaces[ip.interface] ? { interface: interfaces[ip.interface]!.name } : {}),
    })),
    interfaces: interfaces.map((i) => ({ name: i.name, mac: i.mac ?? '', ...(i.sandbox ? { sandbox: i.sandbox } : {}) })),
    routes: (result.routes ?? []).map((r) => ({ dst: r.dst, ...(r.gw ? { gw: r.gw } : {}) })),
  };
  const d = result.dns;
  if (d && (d.nameservers?.length || d.search?.length || d.options?.length)) {
    status.dns = {
      ...(d.nameservers?.length ? { nameservers: d.nameservers } : {}),
      ...(d.search?.length ? { search: d.search } : {}),
      ...(d.options?.length ? { options: d.options } : {}),
    };
  }
  return status;
}
