// Lazily unmounts every mount at or below a directory (deepest first), from this process's
// mount table: the last line of defence before removing a pod's or container's state dir.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { detachIfMounted } from './mount.js';

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function mountPointsUnder(dir: string): string[] {
  const root = resolve(dir);
  const out = new Set<string>();
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = unescapeMountinfo(line.split(' ')[4] ?? '');
    if (mp === root || mp.startsWith(root + '/')) out.add(mp);
  }
  return [...out].sort((a, b) => b.length - a.length);
}

export function detachAllUnder(dir: string): number {
  let n = 0;
  for (const mp of mountPointsUnder(dir)) {
    for (let i = 0; i < 8 && detachIfMounted(mp); i++) n++;
  }
  return n;
}
