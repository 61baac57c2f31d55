// An image archive (what `docker save` or an OCI-layout tar holds, optionally gzip'd) read once
// into a private spool directory, because nothing in it can be used in stream order: docker puts
// manifest.json last, and a layer can only be checked once its config (diff_ids) is known.
//
// Archive entry names never touch the filesystem: every regular file is written to a numbered
// file (f0, f1, ...) and only looked up by name in memory, so `../x` or an absolute name cannot
// place anything outside the spool. Symlinks and hardlinks between archive entries (docker's
// deduplicated layer.tar links) are resolved in memory too, within the archive's own namespace.
// Each file's sha256 and size are computed while it is written, for the blob checks later.
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { once } from 'node:events';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';

/** The archive itself is malformed or refers to things it does not contain. */
export class ArchiveError extends Error {
  override readonly name = 'ArchiveError';
}

export interface SpooledFile {
  /** Where its bytes are on disk (inside the spool dir). */
  path: string;
  size: number;
  digest: string;
  /** Its first bytes, for sniffing a layer's compression. */
  head: Buffer;
}

export interface SpoolLimits {
  /** Cap on entries in the archive. */
  maxEntries: number;
  /** Cap on the bytes of all files in the archive (the spool's disk use). */
  maxBytes: number;
}

export const DEFAULT_SPOOL_LIMITS: SpoolLimits = { maxEntries: 100_000, maxBytes: 256 * 2 ** 30 };
const MAX_LINK_HOPS = 16;
const HEAD_BYTES = 8;

/** "./a//b/" → "a/b"; undefined for names that leave the archive root ("../x"). */
export function cleanArchiveName(name: string): string | undefined {
  const n = posix.normalize(`/${name}`).slice(1).replace(/\/+$/, '');
  return n === '' || n.startsWith('..') ? undefined : n;
}

export class ArchiveSpool {
  private readonly files = new Map<string, SpooledFile>();
  /** name → target name (already cleaned and made archive-absolute). */
  private readonly links = new Map<string, string>();

  constructor(readonly dir: string) {}

  addFile(name: string, f: SpooledFile): void {
    this.files.set(name, f);
    this.links.delete(name);
  }

  addLink(name: string, target: string): void {
    this.links.set(name, target);
    this.files.delete(name);
  }

  /** The regular file an archive name leads to, following in-archive links; undefined when none. */
  resolve(name: string): SpooledFile | undefined {
    let cur = cleanArchiveName(name);
    for (let hops = 0; cur !== undefined && hops <= MAX_LINK_HOPS; hops++) {
      const f = this.files.get(cur);
      if (f) return f;
      cur = this.links.get(cur);
    }
    return undefined;
  }

  has(name: string): boolean {
    return this.resolve(name) !== undefined;
  }

  /** The file's content, refused past `limit` bytes (metadata files, not layers). */
  async read(name: string, limit = 16 << 20): Promise<Buffer> {
    const f = this.resolve(name);
    if (!f) throw new ArchiveError(`archive has no file ${name}`);
    if (f.size > limit) throw new ArchiveError(`${name} is ${f.size} bytes; more than the ${limit} allowed for metadata`);
    return readFile(f.path);
  }

  async readJson<T>(name: string): Promise<T> {
    const b = await this.read(name);
    try {
      return JSON.parse(b.toString('utf8')) as T;
    } catch {
      throw new ArchiveError(`${name} in the archive is not valid JSON`);
    }
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The source as an uncompressed tar: gzip is recognised by its magic bytes, like `docker load`. */
function plainTar(source: Readable): Readable {
  const it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let first: IteratorResult<Buffer> | undefined;
  async function* rest(): AsyncGenerator<Buffer> {
    if (first && !first.done) yield first.value;
    for (;;) {
      const n = await it.next();
      if (n.done) return;
      yield n.value;
    }
  }
  async function* sniffed(): AsyncGenerator<Buffer> {
    first = await it.next();
    const head = first.done ? undefined : first.value;
    if (head && head[0] === 0x1f && head[1] === 0x8b) {
      yield* pipeline(Readable.from(rest()), createGunzip({ chunkSize: 256 * 1024 }), () => undefined) as AsyncIterable<Buffer>;
    } else {
      yield* rest();
    }
  }
  return Readable.from(sniffed(), { objectMode: false });
}

type TarEntry = AsyncIterable<Buffer> & { header: tar.Header; resume(): unknown };

/**
 * Reads the whole archive into `dir` (created here; removed again when this fails). The caller
 * owns the returned spool and calls remove() when done.
 */
export async function spoolArchive(source: Readable, dir: string, limits: SpoolLimits = DEFAULT_SPOOL_LIMITS): Promise<ArchiveSpool> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const spool = new ArchiveSpool(dir);
  const extract = tar.extract();
  const feeding = new Promise<void>((resolve) => pipeline(plainTar(source), extract, () => resolve()));
  let entries = 0;
  let bytes = 0;
  try {
    for await (const e of extract) {
      const entry = e as unknown as TarEntry;
      const h = entry.header;
      if (++entries > limits.maxEntries) throw new ArchiveError(`archive has more than ${limits.maxEntries} entries`);
      const name = cleanArchiveName(h.name);
      if (name === undefined) {
        entry.resume();
        continue; // "./" itself, or a name outside the archive: nothing can refer to it
      }
      if (h.type === 'file' || h.type === 'contiguous-file') {
        const path = join(dir, `f${entries}`);
        const hash = createHash('sha256');
        let size = 0;
        let head = Buffer.alloc(0);
        const out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
        try {
          for await (const chunk of entry) {
            size += chunk.length;
            bytes += chunk.length;
            if (bytes > limits.maxBytes) throw new ArchiveError(`archive holds more than ${limits.maxBytes} bytes`);
            if (head.length < HEAD_BYTES) head = Buffer.concat([head, chunk.subarray(0, HEAD_BYTES - head.length)]);
            hash.update(chunk);
            if (!out.write(chunk)) await once(out, 'drain');
          }
        } finally {
          out.end();
          await once(out, 'close');
        }
        spool.addFile(name, { path, size, digest: `sha256:${hash.digest('hex')}`, head });
      } else if (h.type === 'link') {
        entry.resume();
        // A hardlink names an earlier entry: the same content from now on, even if that name is
        // replaced later. GNU tar writes a file named twice as a hardlink to itself.
        const target = cleanArchiveName(h.linkname ?? '');
        const file = target === undefined ? undefined : spool.resolve(target);
        if (file) spool.addFile(name, file);
      } else if (h.type === 'symlink') {
        entry.resume();
        // Relative to its own directory; resolved on use (it may point at a later entry).
        const raw = h.linkname ?? '';
        const target = cleanArchiveName(raw.startsWith('/') ? raw : posix.join(posix.dirname(name), raw));
        if (target !== undefined) spool.addLink(name, target);
      } else {
        entry.resume();
      }
    }
  } catch (e) {
    extract.destroy();
    source.destroy();
    await feeding;
    spool.remove();
    throw e instanceof Error && !(e instanceof ArchiveError) && /tar|header|Unexpected end/i.test(e.message) ? new ArchiveError(`not a valid tar archive: ${e.message}`) : e;
  }
  await feeding;
  return spool;
}
