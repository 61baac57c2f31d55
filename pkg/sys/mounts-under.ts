// Lazily unmounts every mount at or below a directory (deepest first), from this process's
// mount table: the last line of defence before removing a pod's or container's state dir.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { detachIfMounted } from './mount.js';
import { detachIfMountedAsync } from './mount-async.js';

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

function pointsUnder(mountinfo: string, dir: string): string[] {
  const root = resolve(dir);
  const out = new Set<string>();
  for (const line of mountinfo.split('\n')) {
    const mp = unescapeMountinfo(line.split(' ')[4] ?? '');
    if (mp === root || mp.startsWith(root + '/')) out.add(mp);
  }
  return [...out].sort((a, b) => b.length - a.length);
}

export function mountPointsUnder(dir: string): string[] {
  return pointsUnder(readFileSync('/proc/self/mountinfo', 'utf8'), dir);
}

export function detachAllUnder(dir: string): number {
  let n = 0;
  for (const mp of mountPointsUnder(dir)) {
    for (let i = 0; i < 8 && detachIfMounted(mp); i++) n++;
  }
  return n;
}

/** detachAllUnder with the unmounts on the mount worker (mount-async.ts), for the pod paths. */
export async function detachAllUnderAsync(dir: string): Promise<number> {
  let n = 0;
  for (const mp of pointsUnder(await readFile('/proc/self/mountinfo', 'utf8'), dir)) {
    for (let i = 0; i < 8 && (await detachIfMountedAsync(mp)); i++) n++;
  }
  return n;
}
