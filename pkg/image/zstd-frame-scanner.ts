// Walks the frame structure of a zstd stream (RFC 8878) as it passes, without decoding it, so a
// frame that declares a window too large is refused before any decoder allocates that window.
// Only headers are read: frame headers, 3-byte block headers, skippable-frame sizes; block bodies
// and checksums are skipped by count. Every frame of a concatenated stream is checked.
import { UnpackError } from './unpack.js';

/**
 * libzstd refuses windows above 1 << ZSTD_WINDOWLOG_LIMIT_DEFAULT (27) = 128 MiB unless the caller
 * raises the limit (zstd --long=31 output needs --memory=2GB to decode). The decoder keeps a window
 * this size per layer, so this caps a layer's decompression memory.
 */
export const ZSTD_MAX_WINDOW_BYTES = 128 * 2 ** 20;

/** No block is larger (RFC 8878 §3.1.1.2.4: Block_Maximum_Size is min(Window_Size, 128 KiB)). */
const ZSTD_MAX_BLOCK_BYTES = 128 * 1024;
const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MAGIC = 0x184d2a50;
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const CHECKSUM_BYTES = 4;
/** Magic (4) + descriptor (1) + window (1) + dictionary ID (4) + content size (8). */
const MAX_FRAME_HEADER_BYTES = 18;

export interface ZstdFrameHeader {
  /** Bytes of the header, magic included. */
  headerBytes: number;
  windowBytes: number;
  hasChecksum: boolean;
}

const DICT_ID_BYTES = [0, 1, 2, 4] as const;

/** Header size given its first 5 bytes (magic + Frame_Header_Descriptor). */
function frameHeaderBytes(descriptor: number): number {
  const singleSegment = (descriptor >> 5) & 1;
  const fcsFlag = descriptor >> 6;
  const fcsBytes = fcsFlag === 0 ? singleSegment : 1 << fcsFlag;
  return 5 + (singleSegment ? 0 : 1) + DICT_ID_BYTES[descriptor & 3]! + fcsBytes;
}

function readLE(b: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + b[at + i]!;
  return v;
}

/** Parses a zstd frame header (magic included); undefined while more bytes are needed. */
export function parseZstdFrameHeader(b: Uint8Array): ZstdFrameHeader | undefined {
  if (b.length < 5) return undefined;
  if (readLE(b, 0, 4) !== ZSTD_MAGIC) throw new UnpackError('zstd: not a zstd frame');
  const descriptor = b[4]!;
  if (descriptor & 0x08) throw new UnpackError('zstd: reserved bit set in a frame header');
  const headerBytes = frameHeaderBytes(descriptor);
  if (b.length < headerBytes) return undefined;
  const singleSegment = (descriptor >> 5) & 1;
  const hasChecksum = ((descriptor >> 2) & 1) === 1;
  let windowBytes: number;
  if (singleSegment) {
    // No Window_Descriptor: the window is the whole content, Frame_Content_Size (last field).
    const fcsFlag = descriptor >> 6;
    const fcsBytes = fcsFlag === 0 ? 1 : 1 << fcsFlag;
    windowBytes = readLE(b, headerBytes - fcsBytes, fcsBytes) + (fcsBytes === 2 ? 256 : 0);
  } else {
    const wd = b[5]!;
    const base = 2 ** (10 + (wd >> 3));
    windowBytes = base + (base / 8) * (wd & 7);
  }
  return { headerBytes, windowBytes, hasChecksum };
}

function mib(n: number): string {
  return `${(n / 2 ** 20).toFixed(n % 2 ** 20 === 0 ? 0 : 1)} MiB`;
}

type State = 'magic' | 'frameHeader' | 'skippableSize' | 'blockHeader' | 'skip';

/** Feed it every chunk in order (scan), then end(); both throw UnpackError on refused input. */
export class ZstdFrameScanner {
  private state: State = 'magic';
  private readonly acc = new Uint8Array(MAX_FRAME_HEADER_BYTES);
  private accLen = 0;
  private skipLeft = 0;
  private afterSkip: 'magic' | 'blockHeader' = 'magic';
  private hasChecksum = false;
  frames = 0;

  constructor(private readonly maxWindowBytes = ZSTD_MAX_WINDOW_BYTES) {}

  /** Header bytes the current state needs in acc before it can be decided. */
  private wanted(): number {
    switch (this.state) {
      case 'magic':
        return 4;
      case 'frameHeader':
        return this.accLen < 5 ? 5 : frameHeaderBytes(this.acc[4]!);
      case 'skippableSize':
        return 8;
      case 'blockHeader':
        return 3;
      case 'skip':
        return 0;
    }
  }

  scan(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'skip') {
        const n = Math.min(this.skipLeft, chunk.length - i);
        i += n;
        this.skipLeft -= n;
        if (this.skipLeft === 0) this.state = this.afterSkip;
        continue;
      }
      const take = Math.min(this.wanted() - this.accLen, chunk.length - i);
      this.acc.set(chunk.subarray(i, i + take), this.accLen);
      this.accLen += take;
      i += take;
      if (this.accLen === this.wanted()) this.complete();
    }
  }

  end(): void {
    if (this.state !== 'magic' || this.accLen !== 0) throw new UnpackError('zstd: stream ends inside a frame');
  }

  private skip(n: number, then: 'magic' | 'blockHeader'): void {
    this.accLen = 0;
    this.skipLeft = n;
    this.afterSkip = then;
    this.state = n > 0 ? 'skip' : then;
  }

  private complete(): void {
    const a = this.acc;
    switch (this.state) {
      case 'magic': {
        const magic = readLE(a, 0, 4);
        if (magic === ZSTD_MAGIC) this.state = 'frameHeader';
        else if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC) this.state = 'skippableSize';
        else throw new UnpackError(`zstd: bad frame magic 0x${magic.toString(16)}`);
        return;
      }
      case 'frameHeader': {
        const h = parseZstdFrameHeader(a.subarray(0, this.accLen))!;
        if (h.windowBytes > this.maxWindowBytes) {
          throw new UnpackError(`zstd frame ${this.frames + 1} declares a ${mib(h.windowBytes)} window; the limit is ${mib(this.maxWindowBytes)}`);
        }
        this.frames++;
        this.hasChecksum = h.hasChecksum;
        this.accLen = 0;
        this.state = 'blockHeader';
        return;
      }
      case 'skippableSize':
        this.skip(readLE(a, 4, 4), 'magic');
        return;
      case 'blockHeader': {
        const v = readLE(a, 0, 3);
        const last = (v & 1) === 1;
        const type = (v >> 1) & 3;
        const size = v >>> 3;
        if (type === 3) throw new UnpackError('zstd: reserved block type');
        if (size > ZSTD_MAX_BLOCK_BYTES) throw new UnpackError(`zstd: block of ${size} bytes exceeds the ${ZSTD_MAX_BLOCK_BYTES}-byte maximum`);
        // RLE blocks carry one byte; raw and compressed blocks carry Block_Size bytes.
        const body = type === 1 ? 1 : size;
        this.skip(body + (last && this.hasChecksum ? CHECKSUM_BYTES : 0), last ? 'magic' : 'blockHeader');
        return;
      }
      case 'skip':
        return;
    }
  }
}
