// The image store: image records (id = config digest) persisted one file each under
// <root>/images/, the content store (index/manifest/config blobs) and the layer snapshots, with
// reference counting: a snapshot stays while an image or a container lease uses it.
//
// Tags move: pulling a tag that now points at another image moves the tag there; an image left
// without tags or digests stays (listed untagged) until RemoveImage, like containerd.
//
// Longer than our ~400-line norm on purpose: records, leases, pulls and imports in flight and the
// garbage collector share one lock and one view of what is in use; split apart they would need
// that view passed around. Disk usage lives in image-fs-usage.ts, pulling in puller.ts.
import { metrics } from '../metrics/registry.js';
import { chmodSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type * as cri from '../api/cri-types.js';
import { failedPrecondition, invalidArgument, isBulkheadError, notFound } from '../errors/errors.js';
import { readJsonSync, writeJsonAtomic } from '../store/atomic-file.js';
import { ContentStore } from './content-store.js';
import { HostsConfig } from './hosts-config.js';
import { ImageFsUsage, type FsUsage } from './image-fs-usage.js';
import type { OciImageConfigFile } from './image-config.js';
import { pullError, pullImage, Semaphore, type PulledImage } from './puller.js';
import { readArchiveImages, unpackArchiveImage } from './archive-import.js';
import { ArchiveError, spoolArchive, type ArchiveSpool } from './archive-spool.js';
import { DigestMismatchError } from './verify-stream.js';
import { familiarName, formatReference, parseReference, tryNormalizeReference } from './reference.js';
import { credentialsFromCri, RegistryClient } from './registry-client.js';
import { SnapshotStore } from './snapshots.js';
import { DEFAULT_UNPACK_LIMITS, UnpackError, type UnpackLimits } from './unpack.js';

export type { OciImageConfigFile } from './image-config.js';

export interface ImageRecord {
  /** Config digest, "sha256:<hex>". */
  id: string;
  repoTags: string[];
  repoDigests: string[];
  /** Manifest + config + compressed layer sizes, as containerd reports it. */
  size: number;
  config: OciImageConfigFile;
  /** Layer chain ids, bottom-most first. */
  chainIds: string[];
  pulledAt: string;
}

/** What is persisted per image: the record plus the metadata blobs it keeps in the content store. */
interface StoredImage {
  record: ImageRecord;
  contentDigests: string[];
}

interface Lease {
  id: string;
  imageId: string;
  chainIds: string[];
}

export interface ImageStoreOptions {
  root: string;
  registryConfigDir: string;
  log: Logger;
  maxConcurrentDownloads: number;
  progressTimeoutMs: number;
  unpackLimits?: UnpackLimits;
}

const HEX64 = /^[a-f0-9]{64}$/;

export class ImageStore {
  private readonly images = new Map<string, StoredImage>();
  private readonly leases = new Map<string, Lease>();
  private readonly pulls = new Map<string, { promise: Promise<ImageRecord>; chainIds: Set<string>; waiters: number; ac: AbortController }>();
  /** Chain ids of imports in flight (GC keeps them). */
  private readonly imports = new Set<Set<string>>();
  private readonly imagesDir: string;
  private readonly spoolRoot: string;
  private readonly leasesDir: string;
  private readonly hosts: HostsConfig;
  private readonly registry: RegistryClient;
  private readonly downloads: Semaphore;
  private readonly usage: ImageFsUsage;
  /** Serialises record updates and garbage collection. */
  private mutex: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly opts: ImageStoreOptions,
    private readonly content: ContentStore,
    private readonly snapshots: SnapshotStore,
  ) {
    this.imagesDir = join(opts.root, 'images');
    this.leasesDir = join(opts.root, 'leases');
    this.spoolRoot = join(opts.root, 'import-spool');
    this.hosts = new HostsConfig(opts.registryConfigDir, opts.log);
    this.registry = new RegistryClient({ hosts: this.hosts, log: opts.log, progressTimeoutMs: opts.progressTimeoutMs });
    this.downloads = new Semaphore(opts.maxConcurrentDownloads);
    this.usage = new ImageFsUsage(opts.log);
  }

  static async open(opts: ImageStoreOptions): Promise<ImageStore> {
    // 0700, repaired on every start (older versions made it 0711): the snapshots, container
    // rootfs mounts and records below are root's alone; mounts and runc resolve them as root.
    mkdirSync(opts.root, { recursive: true, mode: 0o700 });
    chmodSync(opts.root, 0o700);
    const s = new ImageStore(opts, new ContentStore(opts.root), SnapshotStore.open(opts.root, opts.log));
    s.load();
    await s.gc();
    opts.log.info({ images: s.images.size, snapshots: s.snapshots.list().length, leases: s.leases.size }, 'image store opened');
    return s;
  }

  private load(): void {
    mkdirSync(this.imagesDir, { recursive: true, mode: 0o700 });
    mkdirSync(this.leasesDir, { recursive: true, mode: 0o700 });
    // Spools of imports a previous run did not finish.
    rmSync(this.spoolRoot, { recursive: true, force: true });
    for (const name of readdirSync(this.imagesDir)) {
      const file = join(this.imagesDir, name);
      if (!/^[a-f0-9]{64}\.json$/.test(name)) {
        rmSync(file, { force: true }); // temp files of interrupted writes
        continue;
      }
      const stored = readJsonSync<StoredImage>(file);
      // An image whose layers are gone (e.g. a snapshot dir removed by hand) cannot be used: drop it.
      if (!stored || stored.record.chainIds.some((c) => !this.snapshots.get(c)) || stored.contentDigests.some((d) => !this.content.has(d))) {
        this.opts.log.warn({ file }, 'dropping image record with missing content');
        rmSync(file, { force: true });
        continue;
      }
      this.images.set(stored.record.id, stored);
    }
    for (const name of readdirSync(this.leasesDir)) {
      const lease = name.endsWith('.json') ? readJsonSync<Lease>(join(this.leasesDir, name)) : undefined;
      if (lease) this.leases.set(lease.id, lease);
      else rmSync(join(this.leasesDir, name), { force: true });
    }
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.mutex.then(fn, fn);
    this.mutex = p.catch(() => undefined); // the mutex chain only orders calls; each caller sees its own rejection
    return p;
  }

  private recordFile(id: string): string {
    return join(this.imagesDir, `${id.slice('sha256:'.length)}.json`);
  }

  /**
   * Pulls `ref` (normalised Docker-style) and returns its record. Concurrent pulls of one
   * reference share one pull; it is cancelled only when every caller has gone.
   */
  async pull(ref: string, auth: cri.AuthConfig__Output | null, signal?: AbortSignal): Promise<ImageRecord> {
    const parsed = parseReference(ref);
    const name = formatReference(parsed);
    let entry = this.pulls.get(name);
    if (!entry) {
      const ac = new AbortController();
      const chainIds = new Set<string>();
      const promise = this.runPull(name, auth, ac.signal, chainIds).finally(() => this.pulls.delete(name));
      entry = { promise, chainIds, waiters: 0, ac };
      this.pulls.set(name, entry);
    }
    const e = entry;
    e.waiters++;
    if (!signal) return e.promise.finally(() => e.waiters--);
    return new Promise<ImageRecord>((resolve, reject) => {
      const onAbort = () => {
        if (--e.waiters === 0) e.ac.abort(new Error('pull cancelled by every caller'));
        reject(signal.reason instanceof Error ? signal.reason : new Error('pull cancelled'));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      e.promise.then(
        (r) => {
          signal.removeEventListener('abort', onAbort);
          e.waiters--;
          resolve(r);
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          e.waiters--;
          reject(err);
        },
      );
    });
  }

  private async runPull(name: string, auth: cri.AuthConfig__Output | null, signal: AbortSignal, chainIds: Set<string>): Promise<ImageRecord> {
    const ref = parseReference(name);
    const started = performance.now();
    let pulled;
    try {
      pulled = await pullImage(
        {
          registry: this.registry,
          content: this.content,
          snapshots: this.snapshots,
          downloads: this.downloads,
          log: this.opts.log,
          allowDevices: process.getuid?.() === 0,
          limits: this.opts.unpackLimits ?? DEFAULT_UNPACK_LIMITS,
          pin: chainIds,
        },
        ref,
        name,
        credentialsFromCri(auth),
        signal,
      );
    } catch (e) {
      // Whatever this pull committed but no image uses goes again.
      chainIds.clear();
      await this.gc().catch((ge: unknown) => this.opts.log.warn({ err: ge }, 'gc after failed pull'));
      metrics.observePull(0, (performance.now() - started) / 1000, false);
      throw pullError(name, e);
    }
    metrics.observePull(pulled.size, (performance.now() - started) / 1000, true);
    return this.commit(pulled, ref.tag ? [name] : [], [`${familiarName(ref)}@${pulled.topDigest}`]);
  }

  /**
   * Records an image whose layers and blobs are in place, giving it `tags` and `repoDigests`,
   * each moved away from any other image that had it.
   */
  private commit(pulled: PulledImage, tags: string[], repoDigests: string[]): Promise<ImageRecord> {
    return this.locked(async () => {
      for (const other of this.images.values()) {
        if (other.record.id === pulled.configDigest) continue;
        const keptTags = other.record.repoTags.filter((t) => !tags.includes(t));
        const keptDigests = other.record.repoDigests.filter((d) => !repoDigests.includes(d));
        if (keptTags.length !== other.record.repoTags.length || keptDigests.length !== other.record.repoDigests.length) {
          other.record = { ...other.record, repoTags: keptTags, repoDigests: keptDigests };
          await writeJsonAtomic(this.recordFile(other.record.id), other);
        }
      }
      const existing = this.images.get(pulled.configDigest);
      const record: ImageRecord = {
        id: pulled.configDigest,
        repoTags: [...new Set([...(existing?.record.repoTags ?? []), ...tags])],
        repoDigests: [...new Set([...(existing?.record.repoDigests ?? []), ...repoDigests])],
        size: pulled.size,
        config: pulled.config,
        chainIds: pulled.chainIds,
        pulledAt: new Date().toISOString(),
      };
      const stored: StoredImage = { record, contentDigests: [...new Set([...(existing?.contentDigests ?? []), ...pulled.contentDigests])] };
      await writeJsonAtomic(this.recordFile(record.id), stored);
      this.images.set(record.id, stored);
      this.usage.invalidate();
      return record;
    });
  }

  /**
   * Imports every image of an archive (`docker save` output or an OCI-layout tar, maybe gzip'd)
   * with a pull's checks (archive-import.ts). The archive is spooled under <root>/import-spool
   * first, on the store's own filesystem. Images are committed one by one: when a later one
   * fails, the earlier ones stay imported (as `docker load` does) and the error names the failure.
   */
  async importArchive(source: Readable): Promise<ImageRecord[]> {
    const pin = new Set<string>();
    this.imports.add(pin);
    const spoolDir = join(this.spoolRoot, randomBytes(6).toString('hex'));
    const started = performance.now();
    let spool: ArchiveSpool | undefined;
    try {
      spool = await spoolArchive(source, spoolDir);
      const found = await readArchiveImages(spool);
      const out: ImageRecord[] = [];
      for (const img of found) {
        const pulled = await unpackArchiveImage(
          {
            content: this.content,
            snapshots: this.snapshots,
            log: this.opts.log,
            allowDevices: process.getuid?.() === 0,
            limits: this.opts.unpackLimits ?? DEFAULT_UNPACK_LIMITS,
            pin,
          },
          img,
          this.opts.log,
        );
        const record = await this.commit(pulled, img.tags, img.repoDigests);
        this.opts.log.info({ id: record.id, tags: record.repoTags, layers: record.chainIds.length, bytes: record.size, ms: Math.round(performance.now() - started) }, 'image imported');
        out.push(record);
      }
      return out;
    } catch (e) {
      throw importError(e);
    } finally {
      spool?.remove();
      rmSync(spoolDir, { recursive: true, force: true });
      this.imports.delete(pin);
      // Whatever a failed import unpacked but no image uses goes again.
      await this.gc().catch((ge: unknown) => this.opts.log.warn({ err: ge }, 'gc after import'));
    }
  }

  /** Gives the image `source` (reference or id) the tag `target`, moving it from any other image. */
  async tag(source: string, target: string): Promise<ImageRecord> {
    const ref = parseReference(target);
    if (!ref.tag) throw invalidArgument(`"${target}" is not a tag reference`);
    const img = this.resolve(source);
    if (!img) throw notFound(`image "${source}" not found`);
    const stored = this.images.get(img.id)!;
    const record = await this.commit(
      { topDigest: '', manifestDigest: '', configDigest: img.id, config: img.config, chainIds: img.chainIds, size: img.size, contentDigests: stored.contentDigests },
      [formatReference(ref)],
      [],
    );
    this.opts.log.info({ id: record.id, tag: formatReference(ref) }, 'image tagged');
    return record;
  }

  /** By name (normalised; tag or digest), by full id (with or without sha256:), or by unique id prefix. */
  resolve(refOrIdOrDigest: string): ImageRecord | undefined {
    const s = refOrIdOrDigest.trim();
    if (!s) return undefined;
    const hex = s.startsWith('sha256:') ? s.slice(7) : s;
    if (HEX64.test(hex)) {
      const byId = this.images.get(`sha256:${hex}`);
      if (byId) return byId.record;
    }
    const name = tryNormalizeReference(s);
    if (name) {
      for (const img of this.images.values()) {
        if (img.record.repoTags.includes(name) || img.record.repoDigests.includes(name)) return img.record;
      }
    }
    if (/^[a-f0-9]{1,64}$/.test(hex)) {
      const matches = [...this.images.keys()].filter((id) => id.slice(7).startsWith(hex));
      if (matches.length > 1) throw invalidArgument(`image id prefix "${s}" is ambiguous`);
      if (matches.length === 1) return this.images.get(matches[0]!)!.record;
    }
    return undefined;
  }

  list(): ImageRecord[] {
    return [...this.images.values()].map((i) => i.record);
  }

  /** Removes the image with all its tags; a no-op when it does not exist. Layers go once unused. */
  async remove(refOrId: string): Promise<void> {
    const img = this.resolve(refOrId);
    if (!img) return;
    await this.locked(async () => {
      if (!this.images.has(img.id)) return;
      await rm(this.recordFile(img.id), { force: true });
      this.images.delete(img.id);
      this.usage.invalidate();
      this.opts.log.info({ id: img.id, tags: img.repoTags }, 'image removed');
    });
    await this.gc();
  }

  /** Removes snapshots and blobs that no image, lease or running pull uses. */
  private gc(): Promise<void> {
    return this.locked(async () => {
      const usedChains = new Set<string>(this.snapshots.inflightChains());
      for (const i of this.images.values()) for (const c of i.record.chainIds) usedChains.add(c);
      for (const l of this.leases.values()) for (const c of l.chainIds) usedChains.add(c);
      for (const p of this.pulls.values()) for (const c of p.chainIds) usedChains.add(c);
      for (const pin of this.imports) for (const c of pin) usedChains.add(c);
      for (const s of this.snapshots.list()) {
        if (!usedChains.has(s.chainId)) await this.snapshots.remove(s.chainId);
      }
      const usedBlobs = new Set<string>();
      for (const i of this.images.values()) for (const d of i.contentDigests) usedBlobs.add(d);
      // Blobs are written at the very end of a pull or import, under no lock: keep those of ones in flight.
      if (this.pulls.size === 0 && this.imports.size === 0) {
        for (const d of this.content.list()) if (!usedBlobs.has(d)) await this.content.delete(d);
      }
      this.usage.invalidate();
    });
  }

  /** Overlay lowerdirs for the image, top-most layer first, kept alive until releaseLayers(leaseId). */
  async acquireLayers(imageId: string, leaseId: string): Promise<string[]> {
    return this.locked(async () => {
      const img = this.resolve(imageId);
      if (!img) throw notFound(`image "${imageId}" not found`);
      const lease: Lease = { id: leaseId, imageId: img.id, chainIds: img.chainIds };
      await writeJsonAtomic(join(this.leasesDir, `${encodeURIComponent(leaseId)}.json`), lease);
      this.leases.set(leaseId, lease);
      if (img.chainIds.length === 0) return [this.snapshots.emptyDir()];
      return img.chainIds
        .map((c) => {
          const s = this.snapshots.get(c);
          if (!s) throw notFound(`layer ${c} of image ${img.id} is missing`);
          return this.snapshots.fsPath(s);
        })
        .reverse();
    });
  }

  async releaseLayers(leaseId: string): Promise<void> {
    const had = await this.locked(async () => {
      if (!this.leases.has(leaseId)) return false;
      this.leases.delete(leaseId);
      await rm(join(this.leasesDir, `${encodeURIComponent(leaseId)}.json`), { force: true });
      return true;
    });
    if (had) await this.gc();
  }

  reloadRegistryConfig(): void {
    this.hosts.reload();
  }

  /** Bytes and inodes used by snapshots and blobs (ImageFsInfo); cached for a few seconds. */
  fsInfo(): Promise<FsUsage> {
    return this.usage.read(this.snapshots, this.content);
  }

  async close(): Promise<void> {
    for (const p of this.pulls.values()) p.ac.abort(new Error('daemon stopping'));
    await Promise.allSettled([...this.pulls.values()].map((p) => p.promise));
    this.registry.close();
  }
}

/** What can go wrong in an import, as the gRPC-coded errors the rest of the store throws. */
function importError(e: unknown): Error {
  if (isBulkheadError(e)) return e;
  const msg = e instanceof Error ? e.message : String(e);
  if (e instanceof ArchiveError) return invalidArgument(`importing: ${msg}`, e);
  if (e instanceof DigestMismatchError) return failedPrecondition(`importing: content verification failed: ${msg}`, e);
  if (e instanceof UnpackError) return failedPrecondition(`importing: refusing layer content: ${msg}`, e);
  return e instanceof Error ? e : new Error(msg);
}
