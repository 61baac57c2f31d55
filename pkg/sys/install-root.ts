// Where this Bulkhead installation lives, from the location of the running code: <install>/dist/...
// when built (the daemon is one bundled file, dist/cmd/bulkheadd/main.js, since 2026-12-05; other
// entry points run tsc's per-module files), the checkout itself when run from the TypeScript
// sources (vitest). Paths next to the code (bin/, dist/pkg/image/layer-worker.js) are found from
// here, never by a fixed number of `..` that only holds for one module's depth.
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** <install> for code at `moduleUrl` (an import.meta.url); `from` defaults to this module. */
export function installRoot(moduleUrl: string = import.meta.url): string {
  const start = dirname(fileURLToPath(moduleUrl));
  for (let dir = start; ; dir = dirname(dir)) {
    if (basename(dir) === 'dist') return dirname(dir);
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return start; // the file system root: nothing better to offer
  }
}

/** <install>/dist/<rel>: a file tsc emitted, also when the caller is inside the daemon's bundle. */
export function distPath(rel: string, moduleUrl?: string): string {
  return join(installRoot(moduleUrl), 'dist', rel);
}
