// Images from a spooled archive (archive-spool.ts) into the snapshot and content stores, with the
// checks of a pull: every blob named by a digest must have that digest and size, every layer's
// uncompressed stream must match its diff_id in the config, and layers unpack through the same
// contained extractor (unpackLayerStream, in a worker thread: unpackLayerInWorker) as pulled ones.
//
// Two layouts, as `docker load` and `ctr images import` read them:
//  - docker-archive (manifest.json: [{Config, RepoTags, Layers}]), what `docker save` writes. Old
//    docker names layers "<id>/layer.tar" with no digest, so a layer's descriptor is its computed
//    digest and size; its diff_id check is what ties it to the image. The config file's name
//    (<hex>.json or blobs/sha256/<hex>) must be its digest, the image id.
//  - OCI image layout (oci-layout + index.json + blobs/sha256/*), names from the
//    io.containerd.image.name or a full org.opencontainers.image.ref.name annotation.
// manifest.json wins when both are present (docker ≥ 25 writes both; its RepoTags are the names).
import { createReadStream } from 'node:fs';
import type { Logger } from 'pino';
import { MEDIA, type Descriptor, type ImageIndex, type ImageManifest, type OciImageConfigFile } from './image-config.js';
import { unpackLayerInWorker } from './layer-unpack-worker.js';
import { chainIdsOf, lowerLookupFor, selectPlatform, sha256, type PullDeps, type PulledImage } from './puller.js';
import { familiarName, parseReference, formatReference } from './reference.js';
import { ArchiveError, type ArchiveSpool, type SpooledFile } from './archive-spool.js';
import { DigestMismatchError } from './verify-stream.js';

const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar';
const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
const OCI_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
const BLOB_NAME = /^blobs\/sha256\/([a-f0-9]{64})$/;

/** One image found in the archive, its metadata checked, its layers not yet unpacked. */
export interface ArchiveImage {
  /** Normalised tag references to give it. */
  tags: string[];
  /** name@digest references (OCI layouts only: a docker-archive has no registry digest). */
  repoDigests: string[];
  manifestDigest: string;
  configDigest: string;
  config: OciImageConfigFile;
  layers: Array<{ desc: Descriptor; file: SpooledFile }>;
  /** Metadata blobs to keep in the content store (manifest, config, an index it came from). */
  blobs: Map<string, Buffer>;
  size: number;
}

interface DockerManifestEntry {
  Config?: unknown;
  RepoTags?: unknown;
  Layers?: unknown;
}

/** A file by archive name; when the name is a blob path, its content must have that digest. */
function blobFile(spool: ArchiveSpool, name: string, expected?: { digest: string; size: number }): SpooledFile {
  const f = spool.resolve(name);
  if (!f) throw new ArchiveError(`archive has no file ${name}`);
  const m = BLOB_NAME.exec(name.replace(/^\.?\//, ''));
  if (m && f.digest !== `sha256:${m[1]}`) throw new DigestMismatchError(`${name} in the archive has digest ${f.digest}`);
  if (expected && (f.digest !== expected.digest || f.size !== expected.size)) {
    throw new DigestMismatchError(`blob ${expected.digest} in the archive does not match its descriptor (has ${f.digest}, ${f.size} bytes)`);
  }
  return f;
}

function layerMediaType(head: Buffer): string {
  if (head[0] === 0x1f && head[1] === 0x8b) return DOCKER_LAYER_GZIP;
  if (head.readUInt32LE(0) === 0xfd2fb528) return OCI_LAYER_ZSTD;
  return DOCKER_LAYER;
}

function tagsOf(names: string[], what: string): string[] {
  const out: string[] = [];
  for (const n of names) {
    let ref;
    try {
      ref = parseReference(n);
    } catch {
      throw new ArchiveError(`${what}: "${n}" is not a valid image reference`);
    }
    if (ref.tag) out.push(formatReference(ref));
  }
  return out;
}

function parseJson<T>(b: Buffer, what: string): T {
  try {
    return JSON.parse(b.toString('utf8')) as T;
  } catch {
    throw new ArchiveError(`${what} is not valid JSON`);
  }
}

function checkedConfig(body: Buffer, what: string, layerCount: number): OciImageConfigFile {
  const config = parseJson<OciImageConfigFile>(body, what);
  const diffIds = config.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.length !== layerCount) {
    throw new ArchiveError(`${what}: ${layerCount} layers but ${Array.isArray(diffIds) ? diffIds.length : 'no'} diff_ids in the config`);
  }
  return config;
}

async function dockerArchiveImages(spool: ArchiveSpool): Promise<ArchiveImage[]> {
  const entries = await spool.readJson<DockerManifestEntry[]>('manifest.json');
  if (!Array.isArray(entries)) throw new ArchiveError('manifest.json is not a list');
  const out: ArchiveImage[] = [];
  for (const [i, e] of entries.entries()) {
    if (typeof e.Config !== 'string' || !Array.isArray(e.Layers) || !e.Layers.every((l): l is string => typeof l === 'string')) {
      throw new ArchiveError(`manifest.json entry ${i} has no Config or Layers`);
    }
    const configFile = blobFile(spool, e.Config);
    const idInName = /([a-f0-9]{64})(\.json)?$/.exec(e.Config);
    if (idInName && configFile.digest !== `sha256:${idInName[1]}`) throw new DigestMismatchError(`config ${e.Config} in the archive has digest ${configFile.digest}`);
    const configBody = await spool.read(e.Config);
    const config = checkedConfig(configBody, `config ${e.Config}`, e.Layers.length);
    const layers = e.Layers.map((name) => {
      const file = blobFile(spool, name);
      return { desc: { mediaType: layerMediaType(file.head), digest: file.digest, size: file.size }, file };
    });
    // containerd makes a manifest for what it imports; so do we, so the image has one like a pulled one.
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MEDIA.dockerManifest,
      config: { mediaType: DOCKER_CONFIG, digest: configFile.digest, size: configFile.size },
      layers: layers.map((l) => l.desc),
    };
    const manifestBody = Buffer.from(JSON.stringify(manifest));
    const manifestDigest = sha256(manifestBody);
    const repoTags = Array.isArray(e.RepoTags) ? e.RepoTags.filter((t): t is string => typeof t === 'string') : [];
    out.push({
      tags: tagsOf(repoTags, `manifest.json entry ${i}`),
      repoDigests: [],
      manifestDigest,
      configDigest: configFile.digest,
      config,
      layers,
      blobs: new Map([
        [manifestDigest, manifestBody],
        [configFile.digest, configBody],
      ]),
      size: manifestBody.length + configBody.length + layers.reduce((s, l) => s + l.desc.size, 0),
    });
  }
  return out;
}

async function readBlob(spool: ArchiveSpool, desc: Descriptor): Promise<Buffer> {
  if (typeof desc?.digest !== 'string' || typeof desc.size !== 'number') throw new ArchiveError('descriptor without digest or size');
  const name = `blobs/sha256/${desc.digest.replace(/^sha256:/, '')}`;
  blobFile(spool, name, desc);
  return spool.read(name);
}

/** Follows an index (nested ones too) down to the host platform's manifest. */
async function ociManifestFor(spool: ArchiveSpool, desc: Descriptor, blobs: Map<string, Buffer>, what: string, depth = 0): Promise<{ digest: string; manifest: ImageManifest; body: Buffer }> {
  if (depth > 4) throw new ArchiveError(`${what}: indexes nested too deep`);
  const body = await readBlob(spool, desc);
  blobs.set(desc.digest, body);
  const json = parseJson<ImageIndex & ImageManifest>(body, `${what} ${desc.digest}`);
  const type = json.mediaType ?? desc.mediaType;
  if (type === MEDIA.ociIndex || type === MEDIA.dockerList || (Array.isArray(json.manifests) && !json.config)) {
    return ociManifestFor(spool, selectPlatform(json, what), blobs, what, depth + 1);
  }
  if (!json.config?.digest || !Array.isArray(json.layers)) throw new ArchiveError(`${what}: ${desc.digest} is not an image manifest`);
  return { digest: desc.digest, manifest: json, body };
}

async function ociLayoutImages(spool: ArchiveSpool): Promise<ArchiveImage[]> {
  const index = await spool.readJson<ImageIndex>('index.json');
  if (!Array.isArray(index.manifests)) throw new ArchiveError('index.json has no manifests');
  const out: ArchiveImage[] = [];
  for (const top of index.manifests) {
    const ann = top.annotations ?? {};
    const refName = ann['org.opencontainers.image.ref.name'];
    // A bare ref.name ("latest") is a tag without a repository: nothing to name the image by.
    const name = ann['io.containerd.image.name'] ?? (refName && /[/:]/.test(refName) ? refName : undefined);
    const blobs = new Map<string, Buffer>();
    const what = name ?? `index.json entry ${top.digest}`;
    const { digest, manifest } = await ociManifestFor(spool, top, blobs, what);
    const configBody = await readBlob(spool, manifest.config);
    blobs.set(manifest.config.digest, configBody);
    const config = checkedConfig(configBody, `config ${manifest.config.digest}`, manifest.layers.length);
    const layers = manifest.layers.map((desc) => ({ desc, file: blobFile(spool, `blobs/sha256/${desc.digest.replace(/^sha256:/, '')}`, desc) }));
    const tags = name ? tagsOf([name], 'index.json') : [];
    out.push({
      tags,
      repoDigests: tags.map((t) => `${familiarName(parseReference(t))}@${top.digest}`),
      manifestDigest: digest,
      configDigest: manifest.config.digest,
      config,
      layers,
      blobs,
      size: [...blobs.values()].reduce((s, b) => s + b.length, 0) + layers.reduce((s, l) => s + l.desc.size, 0),
    });
  }
  return out;
}

/** Every image in the spooled archive, metadata checked. */
export async function readArchiveImages(spool: ArchiveSpool): Promise<ArchiveImage[]> {
  if (spool.has('manifest.json')) return dockerArchiveImages(spool);
  if (spool.has('index.json')) return ociLayoutImages(spool);
  throw new ArchiveError('not an image archive: no manifest.json (docker save) or index.json (OCI layout)');
}

/**
 * Unpacks the image's layers (each snapshot once: ensure() shares or skips present ones) in
 * order, then stores its metadata blobs; the chain ids go into deps.pin first, so GC keeps them.
 */
export async function unpackArchiveImage(deps: Omit<PullDeps, 'registry' | 'downloads'>, img: ArchiveImage, log: Logger): Promise<PulledImage> {
  const diffIds = img.config.rootfs.diff_ids;
  const chainIds = chainIdsOf(diffIds);
  for (const c of chainIds) deps.pin?.add(c);
  for (const [i, layer] of img.layers.entries()) {
    await deps.snapshots.ensure(chainIds[i]!, diffIds[i]!, i > 0 ? chainIds[i - 1]! : null, async (fsDir) => {
      const t0 = Date.now();
      const stats = await unpackLayerInWorker(createReadStream(layer.file.path), layer.desc, diffIds[i]!, {
        root: fsDir,
        allowDevices: deps.allowDevices,
        limits: deps.limits,
        lowerLookup: lowerLookupFor(deps, chainIds, i),
      });
      log.debug({ layer: layer.desc.digest, bytes: layer.desc.size, entries: stats.entries, ms: Date.now() - t0 }, 'layer imported');
    });
  }
  await Promise.all([...img.blobs].map(([d, b]) => deps.content.write(d, b)));
  return {
    topDigest: img.manifestDigest,
    manifestDigest: img.manifestDigest,
    configDigest: img.configDigest,
    config: img.config,
    chainIds,
    size: img.size,
    contentDigests: [...img.blobs.keys()],
  };
}
