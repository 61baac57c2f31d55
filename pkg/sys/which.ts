// Resolves a binary name through PATH (or checks an absolute path), as exec would.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export function which(name: string, extraDirs: string[] = [], pathVar = process.env.PATH): string | undefined {
  const candidates = name.includes('/')
    ? [name]
    : [...(pathVar ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter), ...extraDirs].map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      if (statSync(c).isFile()) return c;
    } catch {
      /* not here */
    }
  }
  return undefined;
}
