// Tar extraction of one image layer into one snapshot directory, in overlayfs format: the stream
// driver (tar parsing, caps, backpressure, failure naming); the file work is layer-extractor.ts.
//
// Containment: every entry name is cleaned lexically against "/" (so `../../x` lands at <root>/x).
// The root is opened once as a directory fd; each entry's parent is resolved with
// openat2(rootfd, parent, RESOLVE_IN_ROOT), so symlinks made by this layer are followed *inside*
// the root by the kernel (`/etc/passwd` means <root>/etc/passwd, `../..` stops at the root), and
// the entry is made relative to the parent's fd, its last component never followed. Hardlink
// targets are resolved the same way. No path string is ever re-resolved: a directory swapped for
// a symlink after its resolution (a concurrent writer, issue #13 item 9) cannot lead a write out
// of the root; the entry lands in the directory that was resolved, wherever it was renamed to
// (unpack.test.ts, "a parent swapped for a symlink ..."). Needs openat2 (Linux >= 5.6) and /proc.
import type { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { Extractor, type TarEntry } from './layer-extractor.js';
import { UnpackError, type UnpackOptions, type UnpackStats } from './unpack-types.js';

export { findInLowerDirs } from './lower-layers.js';
export {
  cleanComponents,
  DEFAULT_UNPACK_LIMITS,
  UnpackError,
  type UnpackLimits,
  type UnpackOptions,
  type UnpackStats,
} from './unpack-types.js';

/**
 * Extracts an (uncompressed) tar stream into opts.root. Resolves once every entry is on disk;
 * rejects on malformed or refused content (the caller removes the half-written root).
 */
export async function extractTar(source: Readable, opts: UnpackOptions): Promise<UnpackStats> {
  let ex: Extractor;
  try {
    ex = new Extractor(opts);
  } catch (e) {
    source.destroy();
    throw e;
  }
  try {
    return await extractInto(ex, source);
  } finally {
    ex.close();
  }
}

async function extractInto(ex: Extractor, source: Readable): Promise<UnpackStats> {
  const extract = tar.extract();
  // Closed means destroyed (only the feeder ends it): by a failed consumer, or by the consumer's
  // loop exiting. 'close' may have fired before a write returned false; waiting for 'drain' then
  // would never end (a slow consumer, e.g. one awaiting fsyncs, made that race likely).
  let extractClosed = false;
  extract.once('close', () => (extractClosed = true));
  /** The whole source went into the parser, so every check riding on the source (diffID) ran. */
  let fedAll = false;
  const feed = async () => {
    for await (const chunk of source) {
      if (extractClosed) return;
      // Counted here, before tar parsing: a stream of zero blocks, padding, non-file entries or
      // payloads of skipped entries writes no file content yet can be made endless.
      ex.stats.streamBytes += (chunk as Buffer).length;
      if (ex.stats.streamBytes > ex.limits.maxBytes) {
        throw new UnpackError(`layer exceeds the unpack size limit of ${ex.limits.maxBytes} bytes (uncompressed tar stream)`);
      }
      if (!extract.write(chunk as Buffer) && !extractClosed) {
        await new Promise<void>((resolve) => {
          const done = () => {
            extract.off('drain', done);
            extract.off('close', done);
            resolve();
          };
          extract.on('drain', done);
          extract.on('close', done);
        });
      }
    }
    if (extractClosed) return;
    extract.end(undefined);
    fedAll = true;
  };
  const consume = async () => {
    for await (const entry of extract) await ex.entry(entry as unknown as TarEntry);
    ex.finish();
  };
  let feedError: unknown;
  const feeding = feed().catch((e: unknown) => {
    feedError = e;
    extract.destroy(e as Error);
  });
  try {
    await consume();
  } catch (e) {
    ex.sync.abandon();
    // Whichever side failed first names the failure. When extraction failed (a cap, ENOSPC),
    // destroying the source makes the feeder fail too, with a bare "Premature close" that used to
    // win: a tar bomb or a full disk then surfaced as INTERNAL instead of its real error.
    const feedFailedFirst = feedError !== undefined;
    source.destroy();
    extract.destroy(e as Error);
    await feeding;
    throw feedFailedFirst ? feedError : e;
  }
  await feeding;
  if (feedError || !fedAll) {
    ex.sync.abandon();
    throw feedError ?? new UnpackError('tar extraction stopped before the end of the layer stream');
  }
  try {
    await ex.makeDurable();
  } catch (e) {
    ex.sync.abandon();
    throw e;
  }
  return ex.stats;
}
