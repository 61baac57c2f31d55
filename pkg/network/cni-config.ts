// CNI network configuration: picks the file libcni/containerd would (first .conflist/.conf/.json
// in lexical order), validates it, wraps a single-plugin .conf as a list, and builds what each
// plugin invocation gets: stdin config, CNI_ARGS and the environment.
import { readFileSync, readdirSync, accessSync, statSync, constants } from 'node:fs';
import { join } from 'node:path';

export type JsonObject = { [k: string]: unknown };

export interface PluginConf extends JsonObject {
  type: string;
  capabilities?: Record<string, boolean>;
}

export interface NetworkConfList {
  cniVersion: string;
  name: string;
  disableCheck?: boolean;
  plugins: PluginConf[];
}

export interface LoadedNetworkConfig {
  /** The file it came from. */
  file: string;
  list: NetworkConfList;
}

export class CniConfigError extends Error {
  constructor(message: string, readonly reason: 'NoConfig' | 'InvalidConfig' | 'PluginMissing') {
    super(message);
    this.name = 'CniConfigError';
  }
}

/** The CNI config files of a directory, in the order libcni considers them. */
export function cniConfigFileNames(confDir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(confDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return names.filter((f) => /\.(conflist|conf|json)$/.test(f) && !f.startsWith('.')).sort();
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function validPlugin(p: unknown, where: string): PluginConf {
  if (!isObject(p)) throw new CniConfigError(`${where}: plugin entry is not an object`, 'InvalidConfig');
  if (typeof p.type !== 'string' || !p.type) throw new CniConfigError(`${where}: plugin has no "type"`, 'InvalidConfig');
  // The type names a binary in the bin dirs: no paths.
  if (!/^[A-Za-z0-9._-]+$/.test(p.type) || p.type.startsWith('.')) {
    throw new CniConfigError(`${where}: invalid plugin type "${p.type}"`, 'InvalidConfig');
  }
  if (p.capabilities !== undefined && !isObject(p.capabilities)) {
    throw new CniConfigError(`${where}: plugin "${p.type}": "capabilities" is not an object`, 'InvalidConfig');
  }
  return p as PluginConf;
}

/** Parses one config file's text (a .conflist, or a single-plugin .conf/.json wrapped as a list). */
export function parseNetworkConfig(text: string, file: string): NetworkConfList {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CniConfigError(`${file}: invalid JSON: ${(e as Error).message}`, 'InvalidConfig');
  }
  if (!isObject(raw)) throw new CniConfigError(`${file}: not a JSON object`, 'InvalidConfig');
  if (typeof raw.name !== 'string' || !raw.name) throw new CniConfigError(`${file}: no network "name"`, 'InvalidConfig');
  const cniVersion = typeof raw.cniVersion === 'string' && raw.cniVersion ? raw.cniVersion : '0.1.0';
  const isList = file.endsWith('.conflist') || Array.isArray(raw.plugins);
  if (isList) {
    if (!Array.isArray(raw.plugins) || raw.plugins.length === 0) throw new CniConfigError(`${file}: "plugins" is empty or missing`, 'InvalidConfig');
    return {
      cniVersion,
      name: raw.name,
      ...(raw.disableCheck === true ? { disableCheck: true } : {}),
      plugins: raw.plugins.map((p: unknown) => validPlugin(p, file)),
    };
  }
  // A .conf is one plugin whose config also carries name and cniVersion (libcni ConfListFromConf).
  const plugin = validPlugin(raw, file);
  const { name: _n, cniVersion: _v, ...rest } = plugin;
  return { cniVersion, name: raw.name, plugins: [rest as PluginConf] };
}

/** Loads the network config the runtime uses: the first config file of confDir. */
export function loadNetworkConfig(confDir: string): LoadedNetworkConfig {
  const names = cniConfigFileNames(confDir);
  if (names.length === 0) throw new CniConfigError(`no CNI configuration file in ${confDir}`, 'NoConfig');
  const file = join(confDir, names[0]!);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CniConfigError(`${file}: ${(e as Error).message}`, 'InvalidConfig');
  }
  return { file, list: parseNetworkConfig(text, file) };
}

/** Finds a plugin binary in the bin dirs (first executable file wins), like libcni's FindInPath. */
export function findPlugin(type: string, binDirs: string[]): string | undefined {
  for (const dir of binDirs) {
    const p = join(dir, type);
    try {
      accessSync(p, constants.X_OK);
      if (statSync(p).isFile()) return p;
    } catch {
      /* next dir */
    }
  }
  return undefined;
}

/** Throws a PluginMissing error naming every plugin of the list (plus loopback) that is not installed. */
export function checkPlugins(list: NetworkConfList, binDirs: string[]): void {
  const missing = [...new Set(['loopback', ...list.plugins.map((p) => p.type)])].filter((t) => !findPlugin(t, binDirs));
  if (missing.length) {
    throw new CniConfigError(`CNI plugin(s) ${missing.join(', ')} not found in ${binDirs.join(':')}`, 'PluginMissing');
  }
}

/** The pod identity passed to plugins in CNI_ARGS (what kubelet's CNI code always sent). */
export interface PodIdentity {
  podId: string;
  name: string;
  namespace: string;
  uid: string;
}

export function cniArgsPairs(pod: PodIdentity): [string, string][] {
  return [
    ['IgnoreUnknown', '1'],
    ['K8S_POD_NAMESPACE', pod.namespace],
    ['K8S_POD_NAME', pod.name],
    ['K8S_POD_INFRA_CONTAINER_ID', pod.podId],
    ['K8S_POD_UID', pod.uid],
  ];
}

export function formatCniArgs(pairs: [string, string][]): string {
  for (const [k, v] of pairs) {
    if (/[;=]/.test(k) || v.includes(';')) throw new Error(`CNI_ARGS: "${k}=${v}" cannot be encoded (contains ; or =)`);
  }
  return pairs.map(([k, v]) => `${k}=${v}`).join(';');
}

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION';

export interface InvocationEnv {
  command: CniCommand;
  containerId: string;
  netns: string;
  ifName: string;
  cniArgs: string;
  binDirs: string[];
}

/** The plugin's environment: ours (PATH etc., minus stale CNI_* vars) plus the CNI_* variables. */
export function pluginEnv(inv: InvocationEnv, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (!k.startsWith('CNI_')) env[k] = v;
  if (!env.PATH) env.PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  return {
    ...env,
    CNI_COMMAND: inv.command,
    CNI_CONTAINERID: inv.containerId,
    CNI_NETNS: inv.netns,
    CNI_IFNAME: inv.ifName,
    CNI_ARGS: inv.cniArgs,
    CNI_PATH: inv.binDirs.join(':'),
  };
}

/**
 * The stdin config of one plugin of the list (libcni buildOneConfig): the plugin's own keys plus
 * name and cniVersion of the list, prevResult when there is one, and runtimeConfig holding the
 * runtime values of the capabilities the plugin declares (and only those).
 */
export function pluginStdin(list: NetworkConfList, plugin: PluginConf, prevResult: unknown, runtimeValues: Record<string, unknown>): JsonObject {
  const conf: JsonObject = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  if (prevResult !== undefined && prevResult !== null) conf.prevResult = prevResult;
  const rc: JsonObject = {};
  for (const [cap, on] of Object.entries(plugin.capabilities ?? {})) {
    if (on && runtimeValues[cap] !== undefined) rc[cap] = runtimeValues[cap];
  }
  if (Object.keys(rc).length) conf.runtimeConfig = rc;
  else delete conf.runtimeConfig;
  return conf;
}

/** Compares dotted versions ("0.4.0" < "1.0.0"). */
export function versionAtLeast(v: string, min: string): boolean {
  const a = v.split('.').map((x) => parseInt(x, 10) || 0);
  const b = min.split('.').map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}
