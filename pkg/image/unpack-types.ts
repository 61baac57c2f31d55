// What layer extraction takes, reports and refuses; shared by the stream driver (unpack.ts) and
// the per-entry file work (layer-extractor.ts).

export interface UnpackLimits {
  /**
   * Cap on the layer's uncompressed tar stream: every byte the decompressor hands over, headers,
   * padding, zero blocks, skipped payloads and trailing bytes included, not only file bodies.
   */
  maxBytes: number;
  /** Cap on tar entries in one layer. */
  maxEntries: number;
}

export const DEFAULT_UNPACK_LIMITS: UnpackLimits = { maxBytes: 64 * 2 ** 30, maxEntries: 2_000_000 };

export interface UnpackOptions {
  /** The snapshot's fs directory: exists, and belongs to this extraction only. */
  root: string;
  limits?: UnpackLimits;
  /** Create block/char device nodes (root outside a user namespace); otherwise they are skipped. */
  allowDevices: boolean;
  /**
   * Hardlinks whose target is not in this layer may point into a lower layer (the layers are
   * separate directories for overlay): returns the absolute path of that file, or undefined.
   */
  lowerLookup?: (relPath: string) => Promise<string | undefined>;
}

export interface UnpackStats {
  entries: number;
  /** File content written. */
  bytes: number;
  /** The whole uncompressed tar stream read (what limits.maxBytes caps). */
  streamBytes: number;
  skippedDevices: number;
  skippedXattrs: number;
}

/** Thrown for layer content we refuse (bomb limits, hardlinks to nothing, bad parents). */
export class UnpackError extends Error {
  override readonly name = 'UnpackError';
}

/** Cleans an entry name against "/" and returns its components (empty for the root itself). */
export function cleanComponents(name: string): string[] {
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') out.pop();
    else out.push(c);
  }
  return out;
}
