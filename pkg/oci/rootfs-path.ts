// Resolves a path inside a container root filesystem the way the container would see it:
// symlinks (absolute or relative) are followed with the rootfs as "/", and ".." never climbs
// above it. Reading an image's /etc/passwd through this can't be tricked into reading the host's.
import { lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { errnoCode } from '../errors/errors.js';

const MAX_SYMLINKS = 255;

export function resolveInRoot(root: string, unsafePath: string): string {
  const pending = splitPath(unsafePath);
  const current: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === '.') continue;
    if (part === '..') {
      current.pop();
      continue;
    }
    const candidate = join(root, ...current, part);
    let isLink = false;
    try {
      isLink = lstatSync(candidate).isSymbolicLink();
    } catch (e) {
      const code = errnoCode(e);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw e;
      // Missing: the rest can't contain symlinks, keep it literally (".." still clamped).
    }
    if (!isLink) {
      current.push(part);
      continue;
    }
    if (++links > MAX_SYMLINKS) {
      throw Object.assign(new Error(`too many levels of symbolic links resolving ${unsafePath} in ${root}`), { code: 'ELOOP' });
    }
    const target = readlinkSync(candidate);
    if (target.startsWith('/')) current.length = 0;
    pending.unshift(...splitPath(target));
  }
  return join(root, ...current);
}

function splitPath(p: string): string[] {
  return p.split('/').filter((s) => s !== '');
}
