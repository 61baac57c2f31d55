// Image volumes (KEP-4639, `volumes[].image`, beta and on by default since Kubernetes 1.35): a CRI
// Mount whose `image` names an image kubelet pulled. Its layers are mounted read-only, nosuid,
// nodev, noexec under the container's dir (an overlay of the layers; a single layer is a read-only
// bind, since overlayfs needs two lowerdirs without an upperdir), and the container gets a bind of
// that tree, or of `image_sub_path` inside it. Each volume holds its own lease on the layers, so
// the image can't be garbage-collected while a container mounts it.
import { mkdir, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type * as cri from '../api/cri-types.js';
import { invalidArgument, notFound } from '../errors/errors.js';
import { detachIfMountedAsync, mountAsync } from '../sys/mount-async.js';
import { MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REMOUNT } from '../sys/mount.js';
import type { ImageSource } from './image-source.js';

const RO_FLAGS = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
/** The options the container's bind of an image volume gets besides ro (runc remounts binds with what it is told). */
export const IMAGE_VOLUME_OPTIONS = ['nosuid', 'nodev', 'noexec'];

export interface MountedImageVolumes {
  /** The mounts for the spec builder: image mounts now bind a host path, read-only. */
  mounts: cri.Mount__Output[];
  /** The mounts as the record keeps them: image.image resolved to the image id (ContainerStatus). */
  recorded: cri.Mount__Output[];
  /** Host sources of image volumes, to give their spec mounts IMAGE_VOLUME_OPTIONS. */
  sources: Set<string>;
}

export function imageVolumeLeaseId(containerId: string, index: number): string {
  return `container-${containerId}-image-volume-${index}`;
}

function volumeDir(containerDir: string, index: number): string {
  return join(containerDir, 'image-volumes', String(index));
}

function checkSubPath(sub: string, dest: string): void {
  if (sub.startsWith('/') || sub.split('/').some((p) => p === '..')) {
    throw invalidArgument(`image volume ${dest}: image_sub_path "${sub.slice(0, 256)}" must be a relative path inside the image`);
  }
}

/** Mounts every image volume of `mounts`; on failure the caller's rollback runs unmountImageVolumes. */
export async function mountImageVolumes(containerId: string, containerDir: string, mounts: readonly cri.Mount__Output[], images: ImageSource): Promise<MountedImageVolumes> {
  const out: MountedImageVolumes = { mounts: [], recorded: [], sources: new Set() };
  for (const [i, m] of mounts.entries()) {
    const ref = m.image?.image ?? '';
    if (!ref) {
      out.mounts.push(m);
      out.recorded.push(m);
      continue;
    }
    const dest = m.container_path;
    if (m.host_path) throw invalidArgument(`mount ${dest}: host_path and image are mutually exclusive`);
    if (m.image_sub_path) checkSubPath(m.image_sub_path, dest);
    const img = images.resolve(ref);
    if (!img) throw notFound(`image volume ${dest}: image "${ref}" not found: pull it first`);
    const lowers = await images.acquireLayers(img.id, imageVolumeLeaseId(containerId, i));
    const dir = volumeDir(containerDir, i);
    await mkdir(dir, { recursive: true, mode: 0o755 });
    if (lowers.length === 1) {
      await mountAsync(lowers[0]!, dir, null, MS_BIND);
      await mountAsync(null, dir, null, MS_BIND | MS_REMOUNT | RO_FLAGS);
    } else {
      await mountAsync('overlay', dir, 'overlay', RO_FLAGS, `lowerdir=${lowers.join(':')}`);
    }
    let source = dir;
    if (m.image_sub_path) {
      // The image's own symlinks must not lead the bind out of it: resolve, then check containment.
      const want = join(dir, m.image_sub_path);
      try {
        source = await realpath(want);
        await stat(source);
      } catch {
        throw invalidArgument(`image volume ${dest}: image_sub_path "${m.image_sub_path}" does not exist in image ${img.id}`);
      }
      const rel = relative(dir, source);
      if (rel.startsWith('..') || rel.startsWith(sep)) throw invalidArgument(`image volume ${dest}: image_sub_path "${m.image_sub_path}" leaves the image`);
    }
    out.sources.add(source);
    out.mounts.push({ ...m, host_path: source, readonly: true, image: null });
    out.recorded.push({ ...m, readonly: true, image: { ...(m.image ?? {}), image: img.id } as cri.ImageSpec__Output });
  }
  return out;
}

/** Unmounts and releases what mountImageVolumes made for `count` mounts; idempotent. */
export async function unmountImageVolumes(containerId: string, containerDir: string, mounts: readonly cri.Mount__Output[], images: ImageSource): Promise<void> {
  for (const [i, m] of mounts.entries()) {
    if (!m.image?.image) continue;
    for (let n = 0; n < 4 && (await detachIfMountedAsync(volumeDir(containerDir, i))); n++);
    await images.releaseLayers(imageVolumeLeaseId(containerId, i));
  }
}
