// `bulkhead config check FILE`: the daemon's own parser and schema, every problem with its key path.
import { readFileSync } from 'node:fs';
import { ConfigError, configProblems, parseConfigText } from '../config/load.js';

export interface ConfigCheckResult {
  file: string;
  ok: boolean;
  errors: string[];
}

export function checkConfigFile(file: string): ConfigCheckResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { file, ok: false, errors: [`cannot read: ${(e as Error).message}`] };
  }
  let doc: unknown;
  try {
    doc = parseConfigText(text, file);
  } catch (e) {
    return { file, ok: false, errors: e instanceof ConfigError ? e.problems : [(e as Error).message] };
  }
  const errors = configProblems(doc);
  return { file, ok: errors.length === 0, errors };
}
