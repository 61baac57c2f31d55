// Layer decompression chosen by media type: gzip (zlib, on libuv's thread pool), zstd (fzstd in a
// worker thread per layer, behind a frame-header check; Node 20's zlib has no zstd), or none.
import { createGunzip } from 'node:zlib';
import { PassThrough, type Duplex } from 'node:stream';
import { ZstdWorkerDecompress } from './zstd-worker-stream.js';

export type Compression = 'gzip' | 'zstd' | 'none';

export function compressionOf(mediaType: string): Compression | undefined {
  if (/\.tar\.gzip$|tar\+gzip$/.test(mediaType)) return 'gzip';
  if (/tar\+zstd$/.test(mediaType)) return 'zstd';
  if (/\.tar$|image\.rootfs\.diff\.tar$|layer\.v1\.tar$/.test(mediaType)) return 'none';
  return undefined;
}

export function decompressor(c: Compression): Duplex {
  switch (c) {
    case 'gzip':
      return createGunzip({ chunkSize: 256 * 1024 });
    case 'zstd':
      return new ZstdWorkerDecompress();
    case 'none':
      return new PassThrough();
  }
}
