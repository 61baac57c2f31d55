// Unix socket paths are limited to 108 bytes; pod state dirs (<state>/pods/<64-hex id>/vm) can exceed
// that. A short symlink to the dir keeps socket paths short (the kernel resolves it; only the string
// given to bind/connect counts).
import { createHash } from 'node:crypto';
import { readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MAX_DIR = 90; // leaves room for "/agent.sock" etc. under the 108-byte limit

export function shortSocketDir(dir: string): string {
  if (dir.length <= MAX_DIR) return dir;
  const link = join(tmpdir(), `bhvm-${createHash('sha256').update(dir).digest('hex').slice(0, 16)}`);
  try {
    if (readlinkSync(link) === dir) return link;
    rmSync(link, { force: true });
  } catch {
    /* no link yet */
  }
  symlinkSync(dir, link);
  return link;
}

export function releaseShortSocketDir(dir: string): void {
  if (dir.length <= MAX_DIR) return;
  rmSync(join(tmpdir(), `bhvm-${createHash('sha256').update(dir).digest('hex').slice(0, 16)}`), { force: true });
}
