// CRI ImageService: PullImage, ListImages / StreamImages, ImageStatus, RemoveImage, ImageFsInfo,
// on top of the image store. Semantics follow the proto comments and containerd's CRI plugin.
import type * as cri from '../api/cri-types.js';
import { invalidArgument, notFound } from '../errors/errors.js';
import type { ImageHandlers } from '../grpc/handlers.js';
import type { ImageRecord, ImageStore } from '../image/image-store.js';
import { tryNormalizeReference } from '../image/reference.js';
import { nowNs } from '../store/time.js';

const STREAM_BATCH = 500;

/** uid or username from the image config's User ("1002", "1003:1004", "www-data", "www-data:1004"). */
export function userOf(user: string | undefined): { uid?: string; username: string } {
  const u = (user ?? '').split(':')[0]!.trim();
  if (u === '') return { username: '' };
  if (/^\d+$/.test(u)) return { uid: u, username: '' };
  return { username: u };
}

/** Whether an image is named by one of the configured pinned references (tags or digests). */
export function pinnedMatcher(refs: string[]): (img: ImageRecord) => boolean {
  const names = new Set(
    refs.map((r) => {
      const n = tryNormalizeReference(r);
      if (!n) throw new Error(`registry.pinned_images: "${r.slice(0, 256)}" is not an image reference`);
      return n;
    }),
  );
  return (img) => img.repoTags.some((t) => names.has(t)) || img.repoDigests.some((d) => names.has(d));
}

export function toCriImage(img: ImageRecord, pinned = false): cri.Image {
  const user = userOf(img.config.config?.User);
  return {
    id: img.id,
    repo_tags: img.repoTags,
    repo_digests: img.repoDigests,
    size: String(img.size),
    uid: user.uid !== undefined ? { value: user.uid } : null,
    username: user.username,
    spec: { image: img.id, annotations: {} },
    pinned,
  };
}

function imageName(spec: cri.ImageSpec__Output | null | undefined, rpc: string, handlers: readonly string[]): string {
  const name = spec?.image?.trim();
  if (!name) throw invalidArgument(`${rpc}: image.image must not be empty`);
  // Every handler runs the same store's images (a VM pod's guest mounts the same snapshots), so a
  // known runtime_handler is honoured as is; an unknown one is refused as RunPodSandbox refuses it.
  const handler = spec?.runtime_handler ?? '';
  if (handler && !handlers.includes(handler)) throw notFound(`${rpc}: runtime handler "${handler.slice(0, 64)}" is not configured (known: ${handlers.join(', ')})`);
  return name;
}

function filtered(store: ImageStore, filter: cri.ImageFilter__Output | null): ImageRecord[] {
  const want = filter?.image?.image?.trim();
  if (!want) return store.list();
  const img = store.resolve(want);
  return img ? [img] : [];
}

export function imageServiceHandlers(store: ImageStore, opts: { pinnedImages?: string[]; handlers?: readonly string[] } = {}): Pick<ImageHandlers, 'PullImage' | 'ListImages' | 'StreamImages' | 'ImageStatus' | 'RemoveImage' | 'ImageFsInfo'> {
  const isPinned = pinnedMatcher(opts.pinnedImages ?? []);
  const handlers = opts.handlers ?? [];
  const toCri = (img: ImageRecord): cri.Image => toCriImage(img, isPinned(img));
  return {
    async PullImage(req, ctx) {
      const ref = imageName(req.image, 'PullImage', handlers);
      const img = await store.pull(ref, req.auth, ctx.signal);
      ctx.log.info({ image: ref, id: img.id }, 'image pulled');
      return { image_ref: img.id };
    },

    async ListImages(req) {
      return { images: filtered(store, req.filter).map(toCri) };
    },

    async StreamImages(req, stream) {
      const all = filtered(store, req.filter).map(toCri);
      for (let i = 0; i < all.length; i += STREAM_BATCH) await stream.write({ images: all.slice(i, i + STREAM_BATCH) });
    },

    async ImageStatus(req) {
      const img = store.resolve(imageName(req.image, 'ImageStatus', handlers));
      if (!img) return { image: null, info: {} };
      const info: Record<string, string> = {};
      if (req.verbose) {
        info.info = JSON.stringify({ id: img.id, chainIDs: img.chainIds, pulledAt: img.pulledAt, imageSpec: img.config });
      }
      return { image: toCri(img), info };
    },

    async RemoveImage(req, ctx) {
      const name = imageName(req.image, 'RemoveImage', handlers);
      const img = store.resolve(name);
      await store.remove(name);
      if (img) ctx.log.info({ image: name, id: img.id }, 'image removed');
      return {};
    },

    async ImageFsInfo() {
      const fs = await store.fsInfo();
      const usage: cri.FilesystemUsage = {
        timestamp: nowNs(),
        fs_id: { mountpoint: fs.mountpoint },
        used_bytes: { value: String(fs.usedBytes) },
        inodes_used: { value: String(fs.inodesUsed) },
      };
      return { image_filesystems: [usage], container_filesystems: [usage] };
    },
  };
}
