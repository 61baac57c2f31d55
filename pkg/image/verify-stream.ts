// A pass-through that checks a blob against its descriptor while it streams: the byte count may
// never exceed the expected size, and at the end both size and sha256 digest must match. A
// mismatch errors the stream, so whatever consumes it fails and stores nothing.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export class DigestMismatchError extends Error {
  override readonly name = 'DigestMismatchError';
}

export class VerifyStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private count = 0;

  /** `expectedSize` < 0 means unknown (only the digest is checked). */
  constructor(
    private readonly expectedDigest: string,
    private readonly expectedSize: number,
    private readonly what: string,
  ) {
    super();
    if (!expectedDigest.startsWith('sha256:')) throw new DigestMismatchError(`${what}: unsupported digest algorithm in ${expectedDigest}`);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.count += chunk.length;
    if (this.expectedSize >= 0 && this.count > this.expectedSize) {
      cb(new DigestMismatchError(`${this.what}: more than the expected ${this.expectedSize} bytes`));
      return;
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.expectedSize >= 0 && this.count !== this.expectedSize) {
      cb(new DigestMismatchError(`${this.what}: size ${this.count} does not match the expected ${this.expectedSize}`));
      return;
    }
    const got = `sha256:${this.hash.digest('hex')}`;
    if (got !== this.expectedDigest) {
      cb(new DigestMismatchError(`${this.what}: digest ${got} does not match the expected ${this.expectedDigest}`));
      return;
    }
    cb();
  }

  get bytes(): number {
    return this.count;
  }
}
