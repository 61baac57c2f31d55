// Layer decompression chosen by media type: gzip (zlib, off the main thread), zstd (fzstd,
// streaming, pure JS: Node 20's zlib has no zstd), or none.
import { createGunzip } from 'node:zlib';
import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import { Decompress } from 'fzstd';

export type Compression = 'gzip' | 'zstd' | 'none';

export function compressionOf(mediaType: string): Compression | undefined {
  if (/\.tar\.gzip$|tar\+gzip$/.test(mediaType)) return 'gzip';
  if (/tar\+zstd$/.test(mediaType)) return 'zstd';
  if (/\.tar$|image\.rootfs\.diff\.tar$|layer\.v1\.tar$/.test(mediaType)) return 'none';
  return undefined;
}

class ZstdDecompress extends Transform {
  private readonly z: Decompress;
  private pending: Buffer[] = [];

  constructor() {
    super();
    // fzstd may reuse its window buffer: copy what it hands out.
    this.z = new Decompress((chunk) => {
      this.pending.push(Buffer.from(chunk));
    });
  }

  private flushPending(): void {
    for (const b of this.pending) this.push(b);
    this.pending = [];
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.z.push(chunk);
      this.flushPending();
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.z.push(new Uint8Array(0), true);
      this.flushPending();
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }
}

export function decompressor(c: Compression): Transform {
  switch (c) {
    case 'gzip':
      return createGunzip({ chunkSize: 256 * 1024 });
    case 'zstd':
      return new ZstdDecompress();
    case 'none':
      return new PassThrough();
  }
}
