// SPDY/3 header-block compression: one zlib stream per direction per session, primed with the
// SPDY/3 dictionary, each header block ending on a sync-flush boundary.
//
// Outgoing: we emit *stored* (uncompressed) deflate blocks. That is valid zlib for any
// inflater (the peer's stream context just copies them into its window), needs no shared
// deflate state, and is synchronous; header blocks here are a few dozen bytes, so compressing
// them would save nothing worth the state.
// Incoming: the peer compresses (Go's spdystream uses BestCompression with the dictionary),
// so we keep one inflate context for the whole session and sync-flush it per frame. Node has
// no synchronous API for a persistent zlib stream, hence the promise.
import zlib from 'node:zlib';
import { SPDY3_HEADER_DICTIONARY } from './spdy-dictionary.js';
import { SpdyProtocolError } from './spdy-frames.js';
import { MAX_HEADER_BLOCK_BYTES } from './spdy-limits.js';

function adler32(buf: Buffer): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < buf.length; i++) {
    a = (a + buf[i]!) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

const DICT_ID = adler32(SPDY3_HEADER_DICTIONARY);

export class HeaderCompressor {
  private started = false;

  compress(raw: Buffer): Buffer {
    const parts: Buffer[] = [];
    if (!this.started) {
      // zlib header: CMF=0x78 (deflate, 32K window); FLG with FDICT set, FCHECK making CMF*256+FLG % 31 == 0.
      const cmf = 0x78;
      let flg = 0x20; // FDICT, FLEVEL 0
      flg += 31 - ((cmf * 256 + flg) % 31);
      const hdr = Buffer.allocUnsafe(6);
      hdr[0] = cmf;
      hdr[1] = flg;
      hdr.writeUInt32BE(DICT_ID, 2);
      parts.push(hdr);
      this.started = true;
    }
    // Stored blocks (BFINAL=0, BTYPE=00) of at most 65535 bytes, then an empty stored block:
    // exactly what a zlib sync flush emits. The empty block matters: Go's flate reader only
    // hands out a non-final block's bytes once it sees the next block, and the empty one ends
    // the frame without making it read past the frame.
    const storedBlock = (data: Buffer): void => {
      const h = Buffer.allocUnsafe(5);
      h[0] = 0x00;
      h.writeUInt16LE(data.length, 1);
      h.writeUInt16LE(~data.length & 0xffff, 3);
      parts.push(h, data);
    };
    for (let off = 0; off < raw.length; off += 65535) storedBlock(raw.subarray(off, off + 65535));
    storedBlock(Buffer.alloc(0));
    return Buffer.concat(parts);
  }
}

export class HeaderDecompressor {
  private readonly inflate = zlib.createInflate({ dictionary: SPDY3_HEADER_DICTIONARY });
  private queue: Promise<unknown> = Promise.resolve();
  /** Set once a block failed or overran: the shared zlib context is then unusable. */
  private broken: SpdyProtocolError | undefined;

  constructor(private readonly maxBlockBytes: number = MAX_HEADER_BLOCK_BYTES) {
    this.inflate.on('error', () => undefined); // surfaced through decompress()
  }

  /**
   * Inflates one frame's header block, continuing the session's zlib stream; calls are
   * serialised. Output is counted as it comes: past maxBlockBytes the inflater is destroyed
   * at once (a 256 KiB block of zeros inflates to ~260 MiB, and zlib would keep going), the
   * call rejects, and so does every later one.
   */
  decompress(block: Buffer): Promise<Buffer> {
    const run = (): Promise<Buffer> =>
      new Promise<Buffer>((resolve, reject) => {
        if (this.broken) return reject(this.broken);
        const chunks: Buffer[] = [];
        let total = 0;
        const done = (err: SpdyProtocolError | undefined): void => {
          this.inflate.off('data', onData);
          this.inflate.off('error', onError);
          if (!err) return resolve(Buffer.concat(chunks, total));
          this.broken = err;
          chunks.length = 0;
          this.inflate.destroy();
          reject(err);
        };
        const onData = (c: Buffer): void => {
          total += c.length;
          if (total > this.maxBlockBytes) done(new SpdyProtocolError(`header block inflates past ${this.maxBlockBytes} bytes`));
          else chunks.push(c);
        };
        const onError = (e: Error): void => done(new SpdyProtocolError(`header decompression failed: ${e.message}`));
        this.inflate.on('data', onData);
        this.inflate.once('error', onError);
        this.inflate.write(block);
        this.inflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
          if (!this.broken) done(undefined);
        });
      });
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined); // the queue only orders (de)compressions; each caller sees its own rejection
    return p;
  }

  close(): void {
    this.inflate.close();
  }
}
