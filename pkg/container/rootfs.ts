// A container's root filesystem: overlay of the image layers (read-only lowerdirs, top-most
// first) with the container's own upper/work dirs under its directory.
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { detachIfMounted, mount } from '../sys/mount.js';

export interface RootfsDirs {
  rootfs: string;
  upper: string;
  work: string;
}

export function rootfsDirs(containerDir: string): RootfsDirs {
  return { rootfs: join(containerDir, 'rootfs'), upper: join(containerDir, 'upper'), work: join(containerDir, 'work') };
}

export async function mountRootfs(containerDir: string, lowerdirs: string[]): Promise<string> {
  if (!lowerdirs.length) throw new Error('image has no layers');
  const d = rootfsDirs(containerDir);
  await Promise.all([d.rootfs, d.upper, d.work].map((p) => mkdir(p, { recursive: true, mode: 0o755 })));
  const opts = `lowerdir=${lowerdirs.join(':')},upperdir=${d.upper},workdir=${d.work}`;
  mount('overlay', d.rootfs, 'overlay', 0, opts);
  return d.rootfs;
}

export async function unmountRootfs(containerDir: string): Promise<void> {
  const d = rootfsDirs(containerDir);
  for (let i = 0; i < 4 && detachIfMounted(d.rootfs); i++);
}

export async function removeContainerDir(containerDir: string): Promise<void> {
  await unmountRootfs(containerDir);
  // Image volumes (image-volumes.ts) still mounted after a crash: rm must not walk into image layers.
  const vols = join(containerDir, 'image-volumes');
  for (const n of await readdir(vols).catch(() => [])) for (let i = 0; i < 4 && detachIfMounted(join(vols, n)); i++);
  await rm(containerDir, { recursive: true, force: true });
}
