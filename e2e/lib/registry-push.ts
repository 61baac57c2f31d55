// Builds small OCI/Docker images in memory (tar-stream layers, gzip / zstd / none) and pushes
// them to a registry through the distribution HTTP API: monolithic blob upload + manifest PUT.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';

export type LayerEntry = Partial<tar.Header> & { name: string; body?: string | Buffer };
export type Compression = 'gzip' | 'zstd' | 'none';

export interface Blob {
  mediaType: string;
  digest: string;
  size: number;
  data: Buffer;
}

export interface BuiltImage {
  manifest: Blob;
  config: Blob;
  layers: Blob[];
  diffIds: string[];
}

export function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

function blob(mediaType: string, data: Buffer): Blob {
  return { mediaType, digest: sha256(data), size: data.length, data };
}

export async function tarOf(entries: LayerEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c) => chunks.push(c as Buffer));
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const { body, ...h } of entries) {
    await new Promise<void>((resolve, reject) =>
      pack.entry({ mode: h.type === 'directory' ? 0o755 : 0o644, mtime: new Date(1_672_531_200_000), ...h }, body ?? '', (e) => (e ? reject(e) : resolve())),
    );
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export interface LayerSpec {
  entries: LayerEntry[];
  compression?: Compression;
}

export async function buildImage(opts: {
  layers: LayerSpec[];
  user?: string;
  cmd?: string[];
  env?: string[];
  architecture?: string;
  docker?: boolean;
}): Promise<BuiltImage> {
  const layers: Blob[] = [];
  const diffIds: string[] = [];
  for (const l of opts.layers) {
    const t = await tarOf(l.entries);
    diffIds.push(sha256(t));
    const c = l.compression ?? 'gzip';
    if (c === 'gzip') layers.push(blob(opts.docker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar+gzip', gzipSync(t)));
    else if (c === 'zstd') layers.push(blob('application/vnd.oci.image.layer.v1.tar+zstd', execFileSync('zstd', ['-c', '-q'], { input: t })));
    else layers.push(blob('application/vnd.oci.image.layer.v1.tar', t));
  }
  const config = {
    architecture: opts.architecture ?? 'amd64',
    os: 'linux',
    created: '2023-01-01T00:00:00Z',
    config: { User: opts.user ?? '', Env: opts.env ?? ['PATH=/usr/bin:/bin'], Cmd: opts.cmd ?? ['sh'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: opts.layers.map((_, i) => ({ created: '2023-01-01T00:00:00Z', created_by: `layer ${i}` })),
  };
  const configBlob = blob(opts.docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json', Buffer.from(JSON.stringify(config)));
  const mt = opts.docker ? 'application/vnd.docker.distribution.manifest.v2+json' : 'application/vnd.oci.image.manifest.v1+json';
  const manifest = {
    schemaVersion: 2,
    mediaType: mt,
    config: { mediaType: configBlob.mediaType, digest: configBlob.digest, size: configBlob.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  return { manifest: blob(mt, Buffer.from(JSON.stringify(manifest))), config: configBlob, layers, diffIds };
}

export function buildIndex(images: Array<{ image: BuiltImage; architecture: string }>): Blob {
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: images.map(({ image, architecture }) => ({
      mediaType: image.manifest.mediaType,
      digest: image.manifest.digest,
      size: image.manifest.size,
      platform: { architecture, os: 'linux' },
    })),
  };
  return blob('application/vnd.oci.image.index.v1+json', Buffer.from(JSON.stringify(index)));
}

async function check(res: Response, what: string): Promise<Response> {
  if (!res.ok) throw new Error(`${what}: ${res.status} ${await res.text()}`);
  return res;
}

export async function pushBlob(registryUrl: string, repo: string, b: Blob): Promise<void> {
  const head = await fetch(`${registryUrl}/v2/${repo}/blobs/${b.digest}`, { method: 'HEAD' });
  if (head.ok) return;
  const start = await check(await fetch(`${registryUrl}/v2/${repo}/blobs/uploads/`, { method: 'POST' }), `start upload ${b.digest}`);
  const loc = new URL(start.headers.get('location')!, registryUrl);
  loc.searchParams.set('digest', b.digest);
  await check(
    await fetch(loc, { method: 'PUT', body: b.data, headers: { 'content-type': 'application/octet-stream', 'content-length': String(b.size) } }),
    `upload ${b.digest}`,
  );
}

export async function pushManifest(registryUrl: string, repo: string, ref: string, m: Blob): Promise<void> {
  await check(await fetch(`${registryUrl}/v2/${repo}/manifests/${ref}`, { method: 'PUT', body: m.data, headers: { 'content-type': m.mediaType } }), `manifest ${repo}:${ref}`);
}

/** Pushes every blob of an image, then its manifest under `tag` (and by digest). */
export async function pushImage(registryUrl: string, repo: string, tag: string, img: BuiltImage): Promise<void> {
  for (const l of img.layers) await pushBlob(registryUrl, repo, l);
  await pushBlob(registryUrl, repo, img.config);
  await pushManifest(registryUrl, repo, tag, img.manifest);
}

export async function pushIndex(registryUrl: string, repo: string, tag: string, images: Array<{ image: BuiltImage; architecture: string }>): Promise<Blob> {
  for (const { image } of images) {
    for (const l of image.layers) await pushBlob(registryUrl, repo, l);
    await pushBlob(registryUrl, repo, image.config);
    await pushManifest(registryUrl, repo, image.manifest.digest, image.manifest);
  }
  const index = buildIndex(images);
  await pushManifest(registryUrl, repo, tag, index);
  return index;
}
