// A container's root filesystem: overlay of the image layers (read-only lowerdirs, top-most
// first) with the container's own upper/work dirs under its directory.
//
// In a user-namespace pod each lower layer is first bind-mounted idmapped with the pod's user
// namespace (layers are shared by every pod, so they are never chowned; overlayfs takes idmapped
// lower layers from Linux 5.19 but cannot itself be idmapped), and the fresh upper/work dirs
// belong to the pod's root: copied-up files then keep the layer's ids as the pod sees them.
import { chmod, chown, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { detachIfMountedAsync, mountAsync } from '../sys/mount-async.js';
import { idmapBindMount } from '../sys/idmap-mount.js';

export interface RootfsDirs {
  rootfs: string;
  upper: string;
  work: string;
  /** idmapped views of the lower layers, <n> for the n-th lowerdir */
  idmapped: string;
}

export interface RootfsIdmap {
  /** deploy/userns/bulkhead-idmap-mount */
  helper: string;
  /** the pod's pinned user namespace: its mapping is the mount's */
  usernsFile: string;
  /** host ids of the pod's uid 0 / gid 0, owners of upper and work */
  rootUid: number;
  rootGid: number;
  /**
   * The daemon's root dir, an ancestor of the container dir: runc resolves root.path as the pod's
   * root, an "other" user to the host, so the dirs from here down must be searchable (0711, as
   * containerd's root; listing stays denied and container ids are 256-bit random).
   */
  traversableFrom: string;
}

export function rootfsDirs(containerDir: string): RootfsDirs {
  return { rootfs: join(containerDir, 'rootfs'), upper: join(containerDir, 'upper'), work: join(containerDir, 'work'), idmapped: join(containerDir, 'idmapped') };
}

export async function mountRootfs(containerDir: string, lowerdirs: string[], idmap?: RootfsIdmap): Promise<string> {
  if (!lowerdirs.length) throw new Error('image has no layers');
  const d = rootfsDirs(containerDir);
  await Promise.all([d.rootfs, d.upper, d.work].map((p) => mkdir(p, { recursive: true, mode: 0o755 })));
  let lowers = lowerdirs;
  if (idmap) {
    lowers = [];
    for (const [i, layer] of lowerdirs.entries()) {
      const target = join(d.idmapped, String(i));
      await mkdir(target, { recursive: true, mode: 0o755 });
      await idmapBindMount(idmap.helper, idmap.usernsFile, layer, target);
      lowers.push(target);
    }
    await chown(d.upper, idmap.rootUid, idmap.rootGid);
    await chown(d.work, idmap.rootUid, idmap.rootGid);
    await makeSearchable(idmap.traversableFrom, containerDir);
  }
  const opts = `lowerdir=${lowers.join(':')},upperdir=${d.upper},workdir=${d.work}`;
  await mountAsync('overlay', d.rootfs, 'overlay', 0, opts);
  return d.rootfs;
}

/** Adds search (x) for group and others to `from` and every dir below it down to `to`. */
async function makeSearchable(from: string, to: string): Promise<void> {
  const rel = relative(from, to);
  if (rel.startsWith('..')) throw new Error(`${to} is not under ${from}`);
  let dir = from;
  for (const part of ['', ...rel.split(sep).filter((p) => p !== '')]) {
    dir = part ? join(dir, part) : dir;
    const mode = (await stat(dir)).mode & 0o7777;
    if ((mode & 0o011) !== 0o011) await chmod(dir, mode | 0o011);
  }
}

export async function unmountRootfs(containerDir: string): Promise<void> {
  const d = rootfsDirs(containerDir);
  for (let i = 0; i < 4 && (await detachIfMountedAsync(d.rootfs)); i++);
  for (const n of await readdir(d.idmapped).catch(() => [])) for (let i = 0; i < 4 && (await detachIfMountedAsync(join(d.idmapped, n))); i++); // no such dir: nothing was idmapped
}

export async function removeContainerDir(containerDir: string): Promise<void> {
  await unmountRootfs(containerDir);
  // Image volumes (image-volumes.ts) still mounted after a crash: rm must not walk into image layers.
  const vols = join(containerDir, 'image-volumes');
  for (const n of await readdir(vols).catch(() => [])) for (let i = 0; i < 4 && (await detachIfMountedAsync(join(vols, n))); i++); // no such dir: no image volumes
  await rm(containerDir, { recursive: true, force: true });
}
