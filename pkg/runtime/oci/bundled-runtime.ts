// Where a handler's runtime binary comes from. deploy/install.sh installs runc >= 1.2 (built from
// the Go module proxy; Debian 12's runc is 1.1.5) and the idmap helper into <install>/bin, and a
// handler configured with a bare name ("runc", the default) prefers that copy over PATH: the
// daemon then gets user-namespace support without a config change, and `runtime_path` set to
// an absolute path still wins.
import { join } from 'node:path';
import { installRoot } from '../../sys/install-root.js';
import { which } from '../../sys/which.js';

/** <install>/bin, from wherever this code runs (the daemon's bundle or tsc's per-module files). */
export const BUNDLED_BIN_DIR = join(installRoot(import.meta.url), 'bin');

export function resolveRuntimePath(configured: string, bundledDir = BUNDLED_BIN_DIR): string | undefined {
  if (!configured.includes('/')) {
    const bundled = which(join(bundledDir, configured));
    if (bundled) return bundled;
  }
  return which(configured);
}
