// Bytes and inodes used under a directory (a container's overlay upper dir), without following
// symlinks or crossing into other mounts.
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export async function dirUsage(dir: string): Promise<{ bytes: bigint; inodes: bigint }> {
  let bytes = 0n;
  let inodes = 0n;
  const seen = new Set<bigint>();
  const walk = async (d: string, dev: bigint | undefined): Promise<void> => {
    let st;
    try {
      st = await lstat(d, { bigint: true });
    } catch {
      return;
    }
    if (dev !== undefined && st.dev !== dev) return;
    if (!seen.has(st.ino)) {
      seen.add(st.ino);
      inodes++;
      bytes += st.blocks * 512n;
    }
    if (!st.isDirectory()) return;
    let names: string[] = [];
    try {
      names = await readdir(d);
    } catch {
      return;
    }
    for (const n of names) await walk(join(d, n), st.dev);
  };
  await walk(dir, undefined);
  return { bytes, inodes };
}
