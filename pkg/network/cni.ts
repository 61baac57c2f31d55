// A CNI runtime for pod sandboxes (the part of libcni a CRI runtime needs): runs the configured
// plugin chain (ADD in order, DEL in reverse, CHECK) for a pod's pinned netns. No loopback plugin:
// createPodNamespaces brings `lo` up in the same child that creates the netns (one spawn less).
import { metrics, timed } from '../metrics/registry.js';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as cri from '../api/cri-types.js';
import type { Logger } from '../log/logger.js';
import type { Condition } from '../status/status-source.js';
import { failedPrecondition, invalidArgument } from '../errors/errors.js';
import { execInNetnsOk } from '../sys/netns-exec.js';
import { execFileResult } from '../sys/exec-file.js';
import {
  CniConfigError,
  checkPlugins,
  cniArgsPairs,
  findPlugin,
  formatCniArgs,
  loadNetworkConfig,
  pluginEnv,
  pluginStdin,
  versionAtLeast,
  type CniCommand,
  type NetworkConfList,
  type PluginConf,
} from './cni-config.js';
import { capabilityValues } from './cni-capabilities.js';
import { CniPluginError, normaliseResult, parseResult, pluginFailure, podNetworkStatus, type PodNetworkStatus } from './cni-result.js';
import { CniCache, type CniCacheEntry } from './cni-cache.js';

export type { PodNetworkStatus } from './cni-result.js';
export { CniPluginError } from './cni-result.js';

export interface PodNetworkRequest {
  podId: string;
  name: string;
  namespace: string;
  uid: string;
  /** The pod's pinned netns file (PodNamespaces.net). */
  netnsPath: string;
  portMappings: cri.PortMapping__Output[];
  annotations: Record<string, string>;
  cgroupParent?: string;
  dns?: cri.DNSConfig__Output | null;
}

export interface CniNetworkOptions {
  confDir: string;
  binDirs: string[];
  /** Result cache, e.g. <root>/cni-cache. */
  cacheDir: string;
  log: Logger;
  /** Per plugin invocation; default 60 s. */
  pluginTimeoutMs?: number;
  /** DEL attempts before tearDown gives up; default 4. */
  delAttempts?: number;
}

const POD_IFNAME = 'eth0';

/**
 * portmap without port mappings only passes prevResult through on ADD, and its DEL removes per-pod
 * chains that only exist with mappings: skipping it saves two plugin spawns for most pods.
 */
function isNoOpForPod(plugin: PluginConf, entry: CniCacheEntry): boolean {
  if (plugin.type !== 'portmap') return false;
  const ports = plugin.capabilities?.portMappings ? entry.capabilityValues.portMappings : undefined;
  return !Array.isArray(ports) || ports.length === 0;
}
const LOOPBACK: PluginConf = { type: 'loopback' };

export class CniNetwork {
  private readonly cache: CniCache;
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(private readonly opts: CniNetworkOptions) {
    this.cache = new CniCache(opts.cacheDir);
  }

  /** NetworkReady for CRI Status: false with the reason when no usable config or plugins. */
  statusCondition(): Condition {
    try {
      const { list } = loadNetworkConfig(this.opts.confDir);
      checkPlugins(list, this.opts.binDirs);
      return { type: 'NetworkReady', status: true, reason: '', message: '' };
    } catch (e) {
      return { type: 'NetworkReady', status: false, reason: 'NetworkPluginNotReady', message: `cni: ${(e as Error).message}` };
    }
  }

  /** Runs ADD for the pod's chain (lo is already up, see namespaces.ts). On failure, DELs everything and throws. */
  setUp(req: PodNetworkRequest): Promise<PodNetworkStatus> {
    return this.serialised(req.podId, () => timed((sec, ok) => metrics.observeCni('ADD', sec, ok), () => this.add(req)));
  }

  /** Runs DEL for the pod with what ADD used; idempotent, retried with backoff. */
  tearDown(req: PodNetworkRequest): Promise<void> {
    return this.serialised(req.podId, () => timed((sec, ok) => metrics.observeCni('DEL', sec, ok), () => this.del(req)));
  }

  /** Runs CHECK (CNI >= 0.4.0, unless the config disables it); throws when a plugin finds a problem. */
  check(req: PodNetworkRequest): Promise<void> {
    return this.serialised(req.podId, async () => {
      const entry = await this.cache.get(req.podId);
      if (!entry?.result) throw failedPrecondition(`pod ${req.podId} has no network set up`);
      if (!versionAtLeast(entry.config.cniVersion, '0.4.0') || entry.config.disableCheck) return;
      await this.runChain(entry, 'CHECK', req.netnsPath);
    });
  }

  /** The pod's network as ADD reported it (from the cache, so it survives restarts). */
  async status(req: Pick<PodNetworkRequest, 'podId'>): Promise<PodNetworkStatus | undefined> {
    const entry = await this.cache.get(req.podId);
    return entry?.result ? podNetworkStatus(normaliseResult(entry.result)) : undefined;
  }

  /**
   * Pods whose network may still hold resources (ADD done or interrupted, DEL not finished): for
   * garbage collection after a restart, tearDown each one that no longer has a sandbox.
   */
  cachedPodIds(): Promise<string[]> {
    return this.cache.ids();
  }

  private async serialised<T>(podId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(podId) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => {}); // the chain only orders CNI calls per pod; each caller sees its own rejection
    this.locks.set(podId, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(podId) === tail) this.locks.delete(podId);
    }
  }

  private async add(req: PodNetworkRequest): Promise<PodNetworkStatus> {
    const log = this.opts.log.child({ pod: req.podId });
    let list: NetworkConfList;
    try {
      list = loadNetworkConfig(this.opts.confDir).list;
      checkPlugins(list, this.opts.binDirs);
    } catch (e) {
      if (e instanceof CniConfigError) throw failedPrecondition(`pod network not ready: ${e.message}`);
      throw e;
    }
    if (!/^[A-Za-z0-9_.-]+$/.test(req.podId)) throw invalidArgument(`invalid pod id "${req.podId}"`);
    if (!existsSync(req.netnsPath)) throw invalidArgument(`pod ${req.podId}: network namespace ${req.netnsPath} does not exist`);
    let cniArgs: [string, string][];
    let values: Record<string, unknown>;
    try {
      cniArgs = cniArgsPairs(req);
      formatCniArgs(cniArgs);
      values = capabilityValues(req);
    } catch (e) {
      throw invalidArgument(`pod ${req.podId}: ${(e as Error).message}`);
    }
    const entry: CniCacheEntry = {
      kind: 'bulkheadCniCacheV1',
      containerId: req.podId,
      ifName: POD_IFNAME,
      netns: req.netnsPath,
      config: list,
      cniArgs,
      capabilityValues: values,
      loopback: false,
    };
    await this.cache.put(entry);
    const started = Date.now();
    try {
      const result = await this.runChain(entry, 'ADD', req.netnsPath);
      if (!result) throw new Error('CNI chain produced no result');
      entry.result = result;
      await this.cache.put(entry);
      const status = podNetworkStatus(normaliseResult(result));
      log.info({ network: list.name, ips: status.ips, ms: Date.now() - started }, 'pod network set up');
      return status;
    } catch (e) {
      log.warn({ network: list.name, err: (e as Error).message }, 'pod network ADD failed; removing what it created');
      try {
        await this.delWithRetries(entry, req.netnsPath, log);
        await this.cache.remove(req.podId);
      } catch (delErr) {
        log.error({ err: (delErr as Error).message }, 'cleanup after failed ADD failed; the cache entry is kept for a later tearDown');
      }
      throw e;
    }
  }

  private async del(req: PodNetworkRequest): Promise<void> {
    const log = this.opts.log.child({ pod: req.podId });
    const entry = await this.cache.get(req.podId);
    // ADD writes the entry before it starts: no entry means nothing was set up (or it is gone).
    if (!entry) {
      log.debug('pod network: nothing to tear down');
      return;
    }
    const started = Date.now();
    await this.delWithRetries(entry, req.netnsPath || entry.netns, log);
    await this.cache.remove(req.podId);
    log.info({ network: entry.config.name, ms: Date.now() - started }, 'pod network torn down');
  }

  private async delWithRetries(entry: CniCacheEntry, netnsPath: string, log: Logger): Promise<void> {
    const attempts = this.opts.delAttempts ?? 4;
    for (let i = 1; ; i++) {
      // DEL must work without the netns (spec): then CNI_NETNS is empty and plugins release IPs etc.
      const netns = netnsPath && existsSync(netnsPath) ? netnsPath : '';
      const errors: Error[] = [];
      // Every plugin gets its DEL even when one fails, so one failure leaks as little as possible.
      for (const plugin of [...entry.config.plugins].reverse()) {
        if (isNoOpForPod(plugin, entry)) continue;
        await this.invoke(entry.config, plugin, 'DEL', entry, netns, entry.ifName, entry.result).catch((e: Error) => errors.push(e));
      }
      // Only entries from versions that ran the loopback plugin on ADD get its DEL.
      if (netns && entry.loopback !== false) await this.invoke(entry.config, LOOPBACK, 'DEL', entry, netns, 'lo', undefined).catch((e: Error) => errors.push(e));
      if (errors.length === 0) return;
      if (i >= attempts) throw new AggregateError(errors, `pod network DEL failed after ${i} attempts: ${errors.map((e) => e.message).join('; ')}`);
      log.warn({ attempt: i, err: errors.map((e) => e.message).join('; ') }, 'pod network DEL failed; retrying');
      await sleep(100 * 3 ** (i - 1));
    }
  }

  /** ADD (threading prevResult) or CHECK through the chain; returns the last raw result for ADD. */
  private async runChain(entry: CniCacheEntry, command: 'ADD' | 'CHECK', netns: string): Promise<Record<string, unknown> | undefined> {
    let prev: Record<string, unknown> | undefined = command === 'CHECK' ? entry.result : undefined;
    for (const plugin of entry.config.plugins) {
      if (isNoOpForPod(plugin, entry)) continue;
      const out = await this.invoke(entry.config, plugin, command, entry, netns, entry.ifName, prev);
      if (command === 'ADD') {
        parseResult(out, plugin.type); // validates; the raw JSON is what the next plugin gets
        prev = JSON.parse(out) as Record<string, unknown>;
      }
    }
    return command === 'ADD' ? prev : undefined;
  }

  private async invoke(
    list: NetworkConfList,
    plugin: PluginConf,
    command: CniCommand,
    entry: CniCacheEntry,
    netns: string,
    ifName: string,
    prevResult: Record<string, unknown> | undefined,
  ): Promise<string> {
    const bin = findPlugin(plugin.type, this.opts.binDirs);
    if (!bin) throw new CniPluginError(plugin.type, command, undefined, 'plugin binary not found', `searched ${this.opts.binDirs.join(':')}`);
    // DEL gets the ADD result only from CNI 0.4.0 on (libcni does the same).
    const prev = command === 'DEL' && !versionAtLeast(list.cniVersion, '0.4.0') ? undefined : prevResult;
    const conf = plugin === LOOPBACK ? { cniVersion: list.cniVersion, name: 'cni-loopback', type: 'loopback' } : pluginStdin(list, plugin, prev, entry.capabilityValues);
    const env = pluginEnv({ command, containerId: entry.containerId, netns, ifName, cniArgs: formatCniArgs(entry.cniArgs), binDirs: this.opts.binDirs });
    const started = Date.now();
    const r = await execFileResult(bin, [], { input: JSON.stringify(conf), env, timeoutMs: this.opts.pluginTimeoutMs ?? 60_000 });
    this.opts.log.debug({ pod: entry.containerId, plugin: plugin.type, command, ifName, exit: r.code, ms: Date.now() - started }, 'cni plugin ran');
    if (r.code !== 0) {
      throw pluginFailure(plugin.type, command, r.signal ? `killed by ${r.signal}` : `exit status ${r.code}`, r.stdout, r.stderr);
    }
    return r.stdout;
  }
}

export interface InterfaceStats {
  name: string;
  rxBytes: number;
  rxErrors: number;
  txBytes: number;
  txErrors: number;
  rxPackets: number;
  rxDropped: number;
  txPackets: number;
  txDropped: number;
}

/** Parses /proc/net/dev. */
export function parseProcNetDev(text: string): InterfaceStats[] {
  const out: InterfaceStats[] = [];
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    // Columns: rx bytes packets errs drop fifo frame compressed multicast | tx bytes packets errs drop ...
    out.push({
      name: m[1]!,
      rxBytes: f[0] ?? 0,
      rxErrors: f[2] ?? 0,
      txBytes: f[8] ?? 0,
      txErrors: f[10] ?? 0,
      rxPackets: f[1] ?? 0,
      rxDropped: f[3] ?? 0,
      txPackets: f[9] ?? 0,
      txDropped: f[11] ?? 0,
    });
  }
  return out;
}

/** Per-interface counters inside a pinned netns (lo included), for PodSandboxStats. */
export async function netnsInterfaceStats(netnsPath: string): Promise<InterfaceStats[]> {
  // /proc/net is /proc/self/net: it shows the netns of the reading process.
  return parseProcNetDev(await execInNetnsOk(netnsPath, 'cat', ['/proc/net/dev'], { timeoutMs: 10_000 }));
}
