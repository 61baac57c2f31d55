// zstd decompression off the event loop: a Duplex whose decoding (fzstd, pure JS) runs in a
// worker thread of its own, one per layer stream. Node 20's zlib has no zstd, and fzstd on the
// main thread froze the daemon: it shifts its whole window on every block, so one 128 KiB block
// under a 128 MiB window is a 128 MiB memmove, and a layer takes seconds to minutes of CPU.
//
// Input: each chunk is scanned for frame headers (windows above 128 MiB are refused before the
// worker sees them), copied into a buffer of its own and transferred. At most MAX_QUEUED_INPUTS
// chunks wait in the worker; further writes wait for it (back-pressure to the network).
// Output: the worker counts what it posted and the main thread has not yet handed downstream in a
// SharedArrayBuffer; above MAX_UNRELEASED_OUTPUT it blocks (Atomics.wait) until the consumer reads,
// so a 10000:1 block stream cannot fill memory faster than the tar extractor drains it.
import { createRequire } from 'node:module';
import { Duplex } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { UnpackError } from './unpack.js';
import { ZstdFrameScanner, ZSTD_MAX_WINDOW_BYTES } from './zstd-frame-scanner.js';

/** Two queued inputs keep the worker busy while the next network chunk is in transit. */
const MAX_QUEUED_INPUTS = 2;
/** Output posted but not yet read downstream: 4 MiB is ~30 blocks, enough to keep tar busy. */
const MAX_UNRELEASED_OUTPUT = 4 * 2 ** 20;
/** Small blocks are batched into posts of this size: one message per tiny RLE block would cost more than the block. */
const OUTPUT_BATCH_BYTES = 256 * 1024;
/**
 * The worker's JS heap: fzstd needs ~1 MiB of tables; its window lives outside the heap (an
 * ArrayBuffer, at most ZSTD_MAX_WINDOW_BYTES). A runaway heap ends the worker, not the daemon.
 */
const WORKER_HEAP_MB = 64;

/** Control words shared with the worker. */
const UNRELEASED = 0;
const STOP = 1;

type ToWorker = { kind: 'chunk'; data: Uint8Array } | { kind: 'end' };
type FromWorker = { kind: 'out'; data: Uint8Array } | { kind: 'consumed' } | { kind: 'end' } | { kind: 'error'; message: string };

interface WorkerPort {
  on(event: 'message', fn: (m: ToWorker) => void): void;
  postMessage(m: FromWorker, transfer?: ArrayBuffer[]): void;
}
type DecompressCtor = new (ondata: (chunk: Uint8Array, final: boolean) => void) => { push(chunk: Uint8Array, final?: boolean): void };

/**
 * The worker's whole program. It is sent as source text (Function.prototype.toString), so it may
 * use only its parameters and globals: a worker cannot load this .ts file when tests run from source.
 */
function zstdWorkerMain(port: WorkerPort, control: Int32Array, limits: { maxUnreleased: number; batchBytes: number }, Decompress: DecompressCtor): void {
  let batch: Uint8Array[] = [];
  let batchBytes = 0;
  const flush = (): void => {
    if (batchBytes === 0) return;
    const out = new Uint8Array(batchBytes);
    let off = 0;
    for (const b of batch) {
      out.set(b, off);
      off += b.length;
    }
    batch = [];
    batchBytes = 0;
    Atomics.add(control, 0, out.length);
    port.postMessage({ kind: 'out', data: out }, [out.buffer]);
    for (;;) {
      if (Atomics.load(control, 1) !== 0) throw new Error('stopped');
      const unreleased = Atomics.load(control, 0);
      if (unreleased <= limits.maxUnreleased) return;
      Atomics.wait(control, 0, unreleased, 1000);
    }
  };
  // fzstd reads the block again after ondata (to slide its window): keep a copy, never the original.
  const d = new Decompress((chunk) => {
    if (chunk.length === 0) return;
    batch.push(chunk.slice());
    batchBytes += chunk.length;
    if (batchBytes >= limits.batchBytes) flush();
  });
  port.on('message', (m) => {
    try {
      if (m.kind === 'chunk') {
        d.push(m.data, false);
        flush();
        port.postMessage({ kind: 'consumed' });
      } else {
        d.push(new Uint8Array(0), true);
        flush();
        port.postMessage({ kind: 'end' });
      }
    } catch (e) {
      port.postMessage({ kind: 'error', message: e instanceof Error ? e.message : String(e) });
    }
  });
}

const FZSTD_PATH = createRequire(import.meta.url).resolve('fzstd');
const WORKER_SOURCE = `'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { Decompress } = require(workerData.fzstdPath);
(${zstdWorkerMain.toString()})(parentPort, workerData.control, workerData.limits, Decompress);
`;

export class ZstdWorkerDecompress extends Duplex {
  private readonly scanner: ZstdFrameScanner;
  private readonly control = new Int32Array(new SharedArrayBuffer(8));
  private readonly worker: Worker;
  private queuedInputs = 0;
  private writeWaiting: (() => void) | undefined;
  private finalCb: ((err?: Error | null) => void) | undefined;
  /** Bytes pushed downstream while the readable side was full: released on the next _read. */
  private held = 0;
  private finished = false;

  constructor(maxWindowBytes = ZSTD_MAX_WINDOW_BYTES) {
    super({ readableHighWaterMark: 1024 * 1024 });
    this.scanner = new ZstdFrameScanner(maxWindowBytes);
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { fzstdPath: FZSTD_PATH, control: this.control, limits: { maxUnreleased: MAX_UNRELEASED_OUTPUT, batchBytes: OUTPUT_BATCH_BYTES } },
      resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB, maxYoungGenerationSizeMb: 16 },
      stdout: false,
      stderr: false,
    });
    this.worker.on('message', (m: FromWorker) => this.fromWorker(m));
    this.worker.on('error', (e) => this.destroy(new UnpackError(`zstd: decompression worker failed: ${e.message}`)));
    this.worker.on('exit', (code) => {
      if (!this.finished && !this.destroyed) this.destroy(new UnpackError(`zstd: decompression worker exited (${code})`));
    });
  }

  private post(m: ToWorker, transfer?: ArrayBuffer[]): void {
    this.worker.postMessage(m, transfer);
  }

  private fromWorker(m: FromWorker): void {
    if (this.destroyed) return;
    switch (m.kind) {
      case 'out': {
        const n = m.data.length;
        if (this.push(Buffer.from(m.data.buffer, m.data.byteOffset, n))) this.release(n);
        else this.held += n;
        return;
      }
      case 'consumed': {
        this.queuedInputs--;
        const w = this.writeWaiting;
        this.writeWaiting = undefined;
        w?.();
        return;
      }
      case 'end':
        this.finished = true;
        this.push(null);
        this.finalCb?.();
        void this.worker.terminate();
        return;
      case 'error':
        this.destroy(new UnpackError(`zstd: ${m.message}`));
        return;
    }
  }

  private release(n: number): void {
    Atomics.sub(this.control, UNRELEASED, n);
    Atomics.notify(this.control, UNRELEASED);
  }

  override _read(): void {
    if (this.held === 0) return;
    const n = this.held;
    this.held = 0;
    this.release(n);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    try {
      this.scanner.scan(chunk);
    } catch (e) {
      cb(e as Error);
      return;
    }
    // A copy with a buffer of its own: network chunks are often views of a shared pool, which
    // must not be transferred (detached) away from this thread.
    const data = new Uint8Array(chunk);
    this.post({ kind: 'chunk', data }, [data.buffer]);
    if (++this.queuedInputs <= MAX_QUEUED_INPUTS) cb();
    else this.writeWaiting = () => cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    try {
      this.scanner.end();
    } catch (e) {
      cb(e as Error);
      return;
    }
    this.finalCb = cb;
    this.post({ kind: 'end' });
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // Wake a worker blocked on back-pressure so it can see STOP; terminate ends it either way.
    Atomics.store(this.control, STOP, 1);
    Atomics.notify(this.control, UNRELEASED);
    this.worker.terminate().then(
      () => cb(err),
      () => cb(err),
    );
  }
}
