// Reads the TOML config file, applies CLI overrides, validates everything at once.
import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { configSchema, type Config } from './schema.js';
import { knownKeysAt, suggestKey } from './known-keys.js';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

export const DEFAULT_CONFIG_PATH = '/etc/bulkhead/config.toml';

/**
 * Every problem of a parsed document, each as "key.path: what is wrong" (one line per unknown key,
 * with a "did you mean" for typos). Empty when the document is valid.
 */
export function configProblems(doc: unknown): string[] {
  const r = configSchema.safeParse(doc ?? {});
  if (r.success) return [];
  return r.error.issues.flatMap((i) => {
    if (i.code === 'unrecognized_keys') {
      const known = knownKeysAt(configSchema, i.path, doc);
      return i.keys.map((k) => {
        const hint = suggestKey(k, known);
        return `${[...i.path, k].join('.')}: unknown key${hint ? ` (did you mean "${hint}"?)` : ''}`;
      });
    }
    const where = i.path.length ? i.path.join('.') : '(top level)';
    return [`${where}: ${i.message}`];
  });
}

/** Validates a parsed document; every problem is reported with its key path. */
export function validateConfig(doc: unknown): Config {
  const r = configSchema.safeParse(doc ?? {});
  if (r.success) return r.data;
  throw new ConfigError(configProblems(doc));
}

export function parseConfigText(text: string, source = 'config'): unknown {
  try {
    return parseToml(text);
  } catch (e) {
    throw new ConfigError([`${source}: ${(e as Error).message.split('\n')[0]}`]);
  }
}

/**
 * Loads `path` (a missing file means "all defaults" unless `required`), then overlays `overrides`
 * (flat top-level keys from the command line) before validation.
 */
export function loadConfig(path: string | undefined, overrides: Record<string, unknown> = {}, required = false): Config {
  let doc: Record<string, unknown> = {};
  const file = path ?? DEFAULT_CONFIG_PATH;
  try {
    doc = parseConfigText(readFileSync(file, 'utf8'), file) as Record<string, unknown>;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || required || path !== undefined) {
      if (e instanceof ConfigError) throw e;
      throw new ConfigError([`${file}: ${(e as Error).message}`]);
    }
  }
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) doc[k] = v;
  return validateConfig(doc);
}
