// unpackLayerStream in a worker thread: the daemon thread only reads the blob from the network
// and hands its chunks over (transferred, not copied again); the worker (layer-worker.ts) checks
// size and digest, decompresses, checks the diffID, parses the tar and writes the files. Same
// contract as unpackLayerStream: resolves once the layer is verified and durable on disk; rejects
// with the same error classes, and only once the worker has stopped writing, so the caller's
// removal of the snapshot directory never races a write.
import type { Readable } from 'node:stream';
import type { Worker } from 'node:worker_threads';
import type { LayerDescriptor } from './layer-unpack.js';
import { acquireLayerWorker, releaseLayerWorker, WORKER_HEAP_MB } from './layer-worker-pool.js';
import { fromWire, toWire, type FromLayerWorker, type LayerJob, type ToLayerWorker } from './layer-worker-protocol.js';
import { UnpackError, type UnpackOptions, type UnpackStats } from './unpack-types.js';

/**
 * Blob bytes sent but not yet taken by the worker's pipeline. 4 MiB is ~60 network chunks of
 * 64 KiB: enough to keep the worker busy across a message round trip, small enough that four
 * layers in flight (registry.max_concurrent_downloads' default) hold little memory; above it the
 * network read pauses (TCP back-pressure).
 */
const MAX_UNACKED_BYTES = 4 * 2 ** 20;

type Outcome = { ok: true; stats: UnpackStats } | { ok: false; error: Error };

export async function unpackLayerInWorker(body: Readable, desc: LayerDescriptor, diffId: string, opts: UnpackOptions): Promise<UnpackStats> {
  let worker: Worker;
  try {
    worker = await acquireLayerWorker();
  } catch (e) {
    body.destroy();
    throw e;
  }
  const job: LayerJob = { desc, diffId, root: opts.root, allowDevices: opts.allowDevices, limits: opts.limits, lowerLookup: opts.lowerLookup !== undefined };
  const post = (m: ToLayerWorker, transfer?: ArrayBuffer[]): void => worker.postMessage(m, transfer);

  let outcome: Outcome | undefined;
  let settle!: (o: Outcome) => void;
  const finished = new Promise<Outcome>((resolve) => (settle = resolve));
  let unacked = 0;
  let wake: (() => void) | undefined;
  const wakeFeeder = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const end = (o: Outcome): void => {
    if (outcome) return;
    outcome = o;
    settle(o);
    wakeFeeder();
    // The worker failed (or vanished) first: stop downloading what nobody will read.
    if (!o.ok) body.destroy();
  };

  const onMessage = (m: FromLayerWorker): void => {
    switch (m.kind) {
      case 'ack':
        unacked -= m.bytes;
        if (unacked <= MAX_UNACKED_BYTES) wakeFeeder();
        return;
      case 'lookup':
        opts.lowerLookup!(m.rel).then(
          (path) => post({ kind: 'lookup-result', id: m.id, path }),
          (e: unknown) => post({ kind: 'lookup-result', id: m.id, error: toWire(e) }),
        );
        return;
      case 'done':
        end({ ok: true, stats: m.stats });
        return;
      case 'error':
        end({ ok: false, error: fromWire(m.error) });
        return;
    }
  };
  const onError = (e: NodeJS.ErrnoException): void => {
    // Out of heap is the content's doing (the only unbounded input); anything else is our bug.
    const error = e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? new UnpackError(`layer needs more than the worker's ${WORKER_HEAP_MB} MiB heap to unpack`) : new Error(`layer worker failed: ${e.message}`);
    end({ ok: false, error });
  };
  const onExit = (code: number): void => end({ ok: false, error: new Error(`layer worker exited (${code}) before the layer was unpacked`) });
  worker.on('message', onMessage);
  worker.on('error', onError);
  worker.on('exit', onExit);
  post({ kind: 'job', job });

  /** The blob stream failed while the worker was still working: its error names the failure. */
  let bodyError: unknown;
  const feed = async (): Promise<void> => {
    for await (const chunk of body) {
      if (outcome) return;
      // A buffer of its own: network chunks are often views of a shared pool, which must not be
      // detached from this thread by the transfer.
      const data = new Uint8Array(chunk as Buffer);
      unacked += data.byteLength;
      post({ kind: 'chunk', data }, [data.buffer]);
      while (unacked > MAX_UNACKED_BYTES && !outcome) await new Promise<void>((r) => (wake = r));
    }
    if (!outcome) post({ kind: 'end' });
  };
  const feeding = feed().catch((e: unknown) => {
    if (outcome) return; // the worker failed first and destroyed the body: its error is the one to report
    bodyError = e;
    post({ kind: 'abort', error: toWire(e) });
  });

  const o = await finished;
  await feeding;
  worker.off('message', onMessage);
  worker.off('error', onError);
  worker.off('exit', onExit);
  // Only a worker that finished its layer cleanly is reused; one that failed may hold anything.
  if (o.ok) releaseLayerWorker(worker);
  else await worker.terminate();
  if (bodyError !== undefined) throw bodyError;
  if (!o.ok) throw o.error;
  return o.stats;
}
