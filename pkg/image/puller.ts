// One image pull: resolve the reference to a manifest (choosing linux/amd64 from an index), fetch
// and check the config, then stream every layer concurrently from the registry straight into its
// own snapshot directory.
//
// Why all layers unpack concurrently: each layer is its own overlay lower directory holding only
// its diff (whiteouts as overlay char devices), so a layer never needs its parent on disk to be
// unpacked. The one exception, a hardlink to a file in a lower layer, waits for the lower
// snapshots only when it happens (lowerLookup). So the pull is bounded by the network and by the
// slowest layer, not by the sum of the layers.
//
// Each layer unpacks in a worker thread of its own (layer-unpack-worker.ts): this thread only reads
// the network and hands the chunks over, so RPCs are served while a pull verifies, decompresses,
// parses and writes (issue #18).
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { failedPrecondition, invalidArgument, notFound, unauthenticated, unavailable } from '../errors/errors.js';
import type { ContentStore } from './content-store.js';
import { MEDIA, type Descriptor, type ImageIndex, type ImageManifest, type OciImageConfigFile } from './image-config.js';
import { unpackLayerInWorker } from './layer-unpack-worker.js';
import { familiarName, type ImageReference } from './reference.js';
import { readAll, RegistryError, ProgressTimeoutError, type RegistryClient, type RegistryCredentials } from './registry-client.js';
import type { SnapshotStore, SnapshotMeta } from './snapshots.js';
import { DigestMismatchError } from './verify-stream.js';
import { findInLowerDirs, UnpackError, type UnpackLimits } from './unpack.js';

const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', ia32: '386' };
export const HOST_PLATFORM = { os: 'linux', architecture: GOARCH[process.arch] ?? process.arch };

export interface PulledImage {
  /** Digest of what the reference resolved to (index or manifest): the repo digest. */
  topDigest: string;
  manifestDigest: string;
  configDigest: string;
  config: OciImageConfigFile;
  chainIds: string[];
  size: number;
  /** Blobs stored in the content store for this image (index, manifest, config). */
  contentDigests: string[];
}

/** FIFO counting semaphore for concurrent downloads: a released slot passes straight to the next waiter. */
export class Semaphore {
  private active = 0;
  private readonly queue: Array<() => void> = [];
  constructor(private readonly limit: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active < this.limit) this.active++;
    else await new Promise<void>((r) => this.queue.push(r));
    try {
      return await fn();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.active--;
    }
  }
}

export function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

/** chainID(L0) = diffID(L0); chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln)). */
export function chainIdsOf(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? d : `sha256:${createHash('sha256').update(`${prev} ${d}`).digest('hex')}`);
  }
  return out;
}

export interface PullDeps {
  registry: RegistryClient;
  content: ContentStore;
  snapshots: SnapshotStore;
  downloads: Semaphore;
  log: Logger;
  allowDevices: boolean;
  limits?: UnpackLimits;
  /** Filled with the image's chain ids before any layer is unpacked, so GC keeps them. */
  pin?: Set<string>;
  /**
   * How a layer gets from its blob stream into its snapshot: a worker thread per layer by default;
   * bench/tools/pull-stall.ts passes unpackLayerStream to compare with the daemon thread doing it.
   */
  unpackLayer?: typeof unpackLayerInWorker;
}

const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ECONNABORTED', 'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID']);

/** Maps what can go wrong in a pull to gRPC errors with clear messages. */
export function pullError(ref: string, e: unknown): Error {
  const msg = e instanceof Error ? e.message : String(e);
  if (e instanceof RegistryError) {
    if (e.status === 404) return notFound(`pulling ${ref}: not found: ${msg}`, e);
    if (e.status === 401) return unauthenticated(`pulling ${ref}: ${msg}`, e);
    if (e.status === 403) return unauthenticated(`pulling ${ref}: access denied: ${msg}`, e);
    return unavailable(`pulling ${ref}: ${msg}`, e);
  }
  if (e instanceof ProgressTimeoutError) return unavailable(`pulling ${ref}: ${msg}`, e);
  if (e instanceof DigestMismatchError) return failedPrecondition(`pulling ${ref}: content verification failed: ${msg}`, e);
  if (e instanceof UnpackError) return failedPrecondition(`pulling ${ref}: refusing layer content: ${msg}`, e);
  const code = (e as NodeJS.ErrnoException).code;
  if (code && NETWORK_ERRORS.has(code)) return unavailable(`pulling ${ref}: registry unreachable: ${msg}`, e);
  return e instanceof Error ? e : new Error(msg);
}

function parseJson<T>(b: Buffer, what: string): T {
  try {
    return JSON.parse(b.toString('utf8')) as T;
  } catch {
    throw invalidArgument(`${what} is not valid JSON`);
  }
}

export function selectPlatform(index: ImageIndex, ref: string): Descriptor {
  const ok = (d: Descriptor) => d.platform?.os === HOST_PLATFORM.os && d.platform.architecture === HOST_PLATFORM.architecture;
  const found = index.manifests.find((d) => ok(d) && (!d.platform?.variant || HOST_PLATFORM.architecture !== 'arm64' || d.platform.variant === 'v8'));
  if (!found) {
    const have = index.manifests.map((d) => `${d.platform?.os}/${d.platform?.architecture}`).join(', ');
    throw notFound(`image ${ref} has no ${HOST_PLATFORM.os}/${HOST_PLATFORM.architecture} manifest (has: ${have})`);
  }
  return found;
}

/** The lower-layer lookup for hardlinks: waits for the lower snapshots, then searches them safely. */
export function lowerLookupFor(deps: Pick<PullDeps, 'snapshots'>, chainIds: string[], i: number) {
  return async (rel: string): Promise<string | undefined> => {
    const dirs: string[] = [];
    for (let j = i - 1; j >= 0; j--) {
      const chain = chainIds[j]!;
      const meta: SnapshotMeta | undefined = deps.snapshots.get(chain) ?? (await deps.snapshots.waitFor(chain));
      if (!meta) return undefined;
      dirs.push(deps.snapshots.fsPath(meta));
    }
    return findInLowerDirs(dirs, rel);
  };
}

export async function pullImage(deps: PullDeps, ref: ImageReference, refString: string, creds: RegistryCredentials | undefined, signal: AbortSignal): Promise<PulledImage> {
  const log = deps.log.child({ image: refString });
  const started = Date.now();
  const top = await deps.registry.getManifest(ref, ref.digest ?? ref.tag!, creds, signal);
  const topDigest = sha256(top.body);
  if (ref.digest && topDigest !== ref.digest) throw new DigestMismatchError(`manifest for ${refString} has digest ${topDigest}`);
  const blobs = new Map<string, Buffer>([[topDigest, top.body]]);
  let manifestBody = top.body;
  let manifestDigest = topDigest;
  const topJson = parseJson<ImageIndex & ImageManifest>(top.body, `manifest of ${refString}`);
  const topType = topJson.mediaType ?? top.mediaType;
  if (topType === MEDIA.ociIndex || topType === MEDIA.dockerList || (Array.isArray(topJson.manifests) && !topJson.config)) {
    const desc = selectPlatform(topJson, refString);
    const m = await deps.registry.getManifest(ref, desc.digest, creds, signal);
    manifestDigest = sha256(m.body);
    if (manifestDigest !== desc.digest || m.body.length !== desc.size) throw new DigestMismatchError(`manifest ${desc.digest} of ${refString}: content does not match its descriptor`);
    manifestBody = m.body;
    blobs.set(manifestDigest, m.body);
  } else if (topType === MEDIA.dockerSchema1) {
    throw failedPrecondition(`image ${refString} uses Docker schema 1 manifests, which are not supported`);
  }
  const manifest = parseJson<ImageManifest>(manifestBody, `manifest ${manifestDigest}`);
  if (!manifest.config?.digest || !Array.isArray(manifest.layers)) throw failedPrecondition(`manifest ${manifestDigest} of ${refString} is not an image manifest`);

  const configBody = await deps.downloads.run(async () => readAll(await deps.registry.openBlob(ref, manifest.config.digest, creds, signal), 16 << 20));
  if (configBody.length !== manifest.config.size || sha256(configBody) !== manifest.config.digest) {
    throw new DigestMismatchError(`config ${manifest.config.digest} of ${refString}: content does not match its descriptor`);
  }
  blobs.set(manifest.config.digest, configBody);
  const config = parseJson<OciImageConfigFile>(configBody, `config ${manifest.config.digest}`);
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== manifest.layers.length) {
    throw failedPrecondition(`image ${refString}: ${manifest.layers.length} layers but ${diffIds.length} diff_ids in the config`);
  }
  const chainIds = chainIdsOf(diffIds);
  for (const c of chainIds) deps.pin?.add(c);

  // Every layer concurrently (bounded by the download semaphore); the first failure aborts the rest.
  const ac = new AbortController();
  const onAbort = () => ac.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const settled = await Promise.allSettled(
      manifest.layers.map((layer, i) =>
        // The slot is taken before the snapshot starts, in layer order, so a layer waiting for a
        // lower one (hardlink copy-up) never holds the slot that lower one needs.
        deps.downloads.run(() =>
          deps.snapshots.ensure(chainIds[i]!, diffIds[i]!, i > 0 ? chainIds[i - 1]! : null, async (fsDir) => {
            const t0 = Date.now();
            const body = await deps.registry.openBlob(ref, layer.digest, creds, ac.signal);
            const stats = await (deps.unpackLayer ?? unpackLayerInWorker)(body, layer, diffIds[i]!, {
              root: fsDir,
              allowDevices: deps.allowDevices,
              limits: deps.limits,
              lowerLookup: lowerLookupFor(deps, chainIds, i),
            });
            log.debug({ layer: layer.digest, bytes: layer.size, entries: stats.entries, ms: Date.now() - t0 }, 'layer unpacked');
          }),
        ).catch((e: unknown) => {
          ac.abort(e);
          throw e;
        }),
      ),
    );
    // allSettled, not all: a failed pull returns only after its other layers stopped, so the
    // caller's clean-up sees every snapshot this pull made.
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw ac.signal.aborted ? ac.signal.reason : failed.reason;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  // Metadata blobs go in only once every layer is in place, so a failed pull stores nothing.
  await Promise.all([...blobs].map(([d, b]) => deps.content.write(d, b)));
  const size = manifestBody.length + configBody.length + manifest.layers.reduce((s, l) => s + l.size, 0);
  log.info({ repo: familiarName(ref), id: manifest.config.digest, layers: chainIds.length, bytes: size, ms: Date.now() - started }, 'image pulled');
  return { topDigest, manifestDigest, configDigest: manifest.config.digest, config, chainIds, size, contentDigests: [...blobs.keys()] };
}
