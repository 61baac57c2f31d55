// One layer from the wire to a snapshot directory in a single pass:
// network body → size+digest check of the blob → decompression → diffID check → tar extraction.
// Nothing is buffered beyond stream chunks; a check that fails errors the whole chain.
import { pipeline, type Readable } from 'node:stream';
import { compressionOf, decompressor } from './decompress.js';
import { extractTar, UnpackError, type UnpackOptions, type UnpackStats } from './unpack.js';
import { VerifyStream } from './verify-stream.js';

export interface LayerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export async function unpackLayerStream(
  body: Readable,
  desc: LayerDescriptor,
  diffId: string,
  opts: UnpackOptions,
): Promise<UnpackStats> {
  const compression = compressionOf(desc.mediaType);
  if (!compression) {
    body.destroy();
    throw new UnpackError(`unsupported layer media type ${desc.mediaType}`);
  }
  const tarStream = pipeline(
    body,
    new VerifyStream(desc.digest, desc.size, `layer ${desc.digest}`),
    decompressor(compression),
    new VerifyStream(diffId, -1, `layer ${desc.digest} (uncompressed, diffID)`),
    () => undefined, // errors surface through the last stream, which extractTar reads
  );
  try {
    return await extractTar(tarStream, opts);
  } catch (e) {
    throw asContentError(e, desc.digest);
  }
}

/**
 * A corrupt compressed stream is bad content from the registry, like a digest mismatch: which of
 * the two a tampered blob trips first depends on timing (zlib checks its trailer on libuv's pool
 * while the digest is checked when the body ends; e2e/image-pull.spec.ts saw both), so both are
 * refused content (FailedPrecondition), never an internal error.
 */
function asContentError(e: unknown, digest: string): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && code.startsWith('Z_')) return new UnpackError(`layer ${digest}: corrupt gzip stream (${(e as Error).message})`);
  return e;
}
