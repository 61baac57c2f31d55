// Content-addressed blob store: <root>/content/blobs/sha256/<hex>. Every write goes to an ingest
// file, is checked (size AND digest) and only then renamed into place, so a blob path always holds
// exactly the bytes of its digest. A mismatch fails and leaves nothing. Concurrent writes of one
// digest share the work.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, existsSync, statSync } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DigestMismatchError } from './verify-stream.js';
import { fsyncDir } from './fsync-dir.js';
import { isSha256Digest } from './reference.js';

export class ContentStore {
  private readonly blobs: string;
  private readonly ingest: string;
  private readonly inflight = new Map<string, Promise<void>>();

  constructor(root: string) {
    this.blobs = join(root, 'content', 'blobs', 'sha256');
    this.ingest = join(root, 'content', 'ingest');
    mkdirSync(this.blobs, { recursive: true, mode: 0o700 });
    // Leftover ingest files are writes that never finished: drop them.
    rmSync(this.ingest, { recursive: true, force: true });
    mkdirSync(this.ingest, { recursive: true, mode: 0o700 });
  }

  path(digest: string): string {
    if (!isSha256Digest(digest)) throw new Error(`not a sha256 digest: ${digest}`);
    return join(this.blobs, digest.slice('sha256:'.length));
  }

  has(digest: string): boolean {
    return existsSync(this.path(digest));
  }

  read(digest: string): Promise<Buffer> {
    return readFile(this.path(digest));
  }

  /** Stores `data` under `digest` after checking it; a no-op when the blob is already there. */
  write(digest: string, data: Buffer, expectedSize = data.length): Promise<void> {
    if (this.has(digest)) return Promise.resolve();
    const running = this.inflight.get(digest);
    if (running) return running;
    const p = this.doWrite(digest, data, expectedSize).finally(() => this.inflight.delete(digest));
    this.inflight.set(digest, p);
    return p;
  }

  private async doWrite(digest: string, data: Buffer, expectedSize: number): Promise<void> {
    if (data.length !== expectedSize) throw new DigestMismatchError(`blob ${digest}: size ${data.length} does not match the expected ${expectedSize}`);
    const got = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    if (got !== digest) throw new DigestMismatchError(`blob ${digest}: content has digest ${got}`);
    const tmp = join(this.ingest, `${digest.slice(7, 23)}-${randomBytes(4).toString('hex')}`);
    try {
      const fh = await open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.path(digest));
      // The rename is durable only once the directory is: without this a power loss can leave
      // an image record whose blob never reached the disk.
      await fsyncDir(this.blobs);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  delete(digest: string): Promise<void> {
    return rm(this.path(digest), { force: true });
  }

  list(): string[] {
    return readdirSync(this.blobs).filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  /** Bytes and inodes used by the stored blobs. */
  usage(): { bytes: number; inodes: number } {
    let bytes = 0;
    let inodes = 0;
    for (const d of this.list()) {
      try {
        bytes += statSync(this.path(d)).blocks * 512;
        inodes++;
      } catch {
        // removed concurrently
      }
    }
    return { bytes, inodes };
  }
}
