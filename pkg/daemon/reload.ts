// SIGHUP reload: re-read the config file, apply the keys some subsystem declared safe to change
// live (log level, registry hosts, VM pool sizes...), and say which other changed keys need a restart.
// An invalid new file changes nothing: the old config stays in effect and the errors are logged.
//
// Subsystems register one hook each, in one line, from buildDaemon:
//   reload.register({ name: 'registry', keys: ['registry.*'], always: true, apply: (next) => images.reloadRegistryConfig(next) });
//   reload.register({ name: 'vm-pool', keys: ['runtime_handlers.*.pool_size'], apply: (next) => pool.resize(next) });
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../config/load.js';
import type { StatusSource } from '../cri/runtime-info.js';

export interface ReloadHook {
  /** Short name for logs ("registry", "vm-pool"). */
  name: string;
  /**
   * Dotted key paths this hook applies without a restart. `*` matches one path segment
   * ("runtime_handlers.*.pool_size"); a trailing `.*` also matches anything below ("registry.*").
   */
  keys: string[];
  /** Also run when none of its keys changed (e.g. re-read certs.d/<host>/hosts.toml files on every SIGHUP). */
  always?: boolean;
  /** Applies the new config. `changed` lists the changed keys among `keys`. A throw keeps the old values. */
  apply(next: Config, prev: Config, changed: string[]): void | Promise<void>;
}

/** What the daemon passes to subsystems so they can declare live-reloadable keys. */
export class ReloadRegistry {
  private readonly list: ReloadHook[] = [];
  register(hook: ReloadHook): void {
    this.list.push(hook);
  }
  hooks(): readonly ReloadHook[] {
    return this.list;
  }
}

export interface ReloadResult {
  ok: boolean;
  /** Keys applied live. */
  applied: string[];
  /** Changed keys no hook handles: the new value takes effect at the next restart. */
  needsRestart: string[];
  /** Keys whose hook failed (old value kept). */
  failed: string[];
  /** Validation errors of the new file (then nothing else happened). */
  errors: string[];
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Leaf key paths ("registry.config_path"); arrays count as one leaf. */
function flatten(v: unknown, prefix: string, out: Map<string, string>): Map<string, string> {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length === 0 && prefix) out.set(prefix, '{}');
    for (const [k, child] of entries) flatten(child, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    out.set(prefix, JSON.stringify(v ?? null));
  }
  return out;
}

/** Dotted paths whose values differ between two configs (added and removed keys included), sorted. */
export function diffConfig(prev: Config, next: Config): string[] {
  const a = flatten(prev, '', new Map());
  const b = flatten(next, '', new Map());
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].filter((k) => a.get(k) !== b.get(k)).sort();
}

export function keyMatches(pattern: string, key: string): boolean {
  const p = pattern.split('.');
  const k = key.split('.');
  const prefixOnly = p.length > 1 && p[p.length - 1] === '*' && k.length >= p.length;
  if (!prefixOnly && p.length !== k.length) return false;
  return p.every((seg, i) => seg === '*' || seg === k[i]);
}

function getPath(obj: unknown, path: string[]): unknown {
  let cur = obj;
  for (const seg of path) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[seg] : undefined;
  return cur;
}

function setPath(obj: Record<string, Json>, path: string[], value: unknown): void {
  let cur: Record<string, Json> = obj;
  for (const seg of path.slice(0, -1)) {
    const nextObj = cur[seg];
    if (!nextObj || typeof nextObj !== 'object' || Array.isArray(nextObj)) cur[seg] = {};
    cur = cur[seg] as Record<string, Json>;
  }
  const last = path[path.length - 1]!;
  if (value === undefined) delete cur[last];
  else cur[last] = value as Json;
}

export interface ReloaderOptions {
  registry: ReloadRegistry;
  log: Logger;
  /** Re-reads and validates the config (file + the same command-line overrides); throws ConfigError. */
  load: () => Config;
  initial: Config;
}

/** Owns the config in effect; `reload()` is what SIGHUP calls. Reloads never overlap. */
export class Reloader {
  private effective: Config;
  private pendingRestart = new Set<string>();
  private chain: Promise<unknown> = Promise.resolve();
  private lastReload: { at: string; result: ReloadResult } | undefined;

  constructor(private readonly opts: ReloaderOptions) {
    this.effective = opts.initial;
  }

  /** The config in effect: the start-up config plus the keys applied live since. */
  get current(): Config {
    return this.effective;
  }

  reload(): Promise<ReloadResult> {
    const run = this.chain.then(() => this.reloadNow());
    this.chain = run.catch(() => undefined); // the chain only orders reloads; each caller sees its own result
    return run;
  }

  private async reloadNow(): Promise<ReloadResult> {
    const { log, registry } = this.opts;
    let next: Config;
    try {
      next = this.opts.load();
    } catch (e) {
      const errors = e instanceof ConfigError ? e.problems : [(e as Error).message];
      log.error({ errors }, 'config reload rejected: invalid configuration, keeping the current one');
      return this.remember({ ok: false, applied: [], needsRestart: [], failed: [], errors });
    }
    const prev = this.effective;
    const changed = diffConfig(prev, next);
    const hooks = registry.hooks();
    const claimed = (k: string) => hooks.some((h) => h.keys.some((p) => keyMatches(p, k)));
    const applied: string[] = [];
    const failed: string[] = [];
    for (const hook of hooks) {
      const mine = changed.filter((k) => hook.keys.some((p) => keyMatches(p, k)));
      if (mine.length === 0 && !hook.always) continue;
      try {
        await hook.apply(next, prev, mine);
        applied.push(...mine);
      } catch (e) {
        failed.push(...mine);
        log.error({ err: e, hook: hook.name, keys: mine }, 'config reload: hook failed, keeping the old values');
      }
    }
    const needsRestart = changed.filter((k) => !claimed(k));
    // The config in effect takes the applied keys from the new file and keeps everything else.
    const eff = structuredClone(prev) as unknown as Record<string, Json>;
    for (const k of applied) setPath(eff, k.split('.'), getPath(next, k.split('.')));
    this.effective = eff as unknown as Config;
    this.pendingRestart = new Set(diffConfig(this.effective, next));

    log.info({ changed: applied, needs_restart: needsRestart, failed }, 'config reloaded');
    for (const k of needsRestart) {
      log.warn({ key: k, running: getPath(prev, k.split('.')), file: getPath(next, k.split('.')) }, `config key ${k} changed: needs a restart`);
    }
    return this.remember({ ok: failed.length === 0, applied, needsRestart, failed, errors: [] });
  }

  private remember(result: ReloadResult): ReloadResult {
    this.lastReload = { at: new Date().toISOString(), result };
    return result;
  }

  /** Status verbose info: `config` = the config in effect (overrides the start-up one), `reload` = last reload outcome. */
  statusSource(): StatusSource {
    return {
      conditions: async () => [],
      info: async () => ({
        config: JSON.stringify(this.effective),
        reload: JSON.stringify({ last: this.lastReload ?? null, pending_restart: [...this.pendingRestart] }),
      }),
    };
  }
}
