// Idle layer workers kept for the next layer: starting one (a thread, an isolate, the extractor's
// module graph) took 135-260 ms of wall time under load 9-14, against 2-13 ms for an empty layer on
// the event loop, so a 6-layer pull paid ~15 % more wall time with a fresh worker per layer. Only a
// worker whose last layer succeeded comes back; a failed or aborted one is terminated. Idle workers
// are unref'd (they never keep the daemon alive) and end after IDLE_MS.
import { Worker } from 'node:worker_threads';
import { mallocTrim } from '../sys/malloc-trim.js';
import { layerWorkerUrl } from './layer-worker-url.js';

/** registry.max_concurrent_downloads defaults to 4: one idle worker per layer slot. */
const MAX_IDLE = 4;
/**
 * Short, because idle workers are not free: 4 of them added 53 MiB to a 44 MiB process (10 MiB
 * stayed after they ended), and the daemon's idle RSS is one of issue #18's targets. kubelet
 * pulls a pod's images one after the other (serializeImagePulls defaults to true), so back-to-back
 * pulls still find them.
 */
const IDLE_MS = 5_000;
/**
 * The worker's JS heap. Streams bound what it holds (tar-stream's buffers, 1 MiB of source);
 * a runaway heap (a parser bug fed hostile input) ends the worker, not the daemon.
 */
export const WORKER_HEAP_MB = 256;

const idle: Array<{ worker: Worker; timer: NodeJS.Timeout }> = [];
/** Workers alive (busy or idle): when the last one has ended, the C heap they used is trimmed. */
let alive = 0;

function drop(worker: Worker): void {
  const i = idle.findIndex((e) => e.worker === worker);
  if (i < 0) return;
  clearTimeout(idle[i]!.timer);
  idle.splice(i, 1);
}

export async function acquireLayerWorker(): Promise<Worker> {
  const reused = idle.pop();
  if (reused) {
    clearTimeout(reused.timer);
    reused.worker.ref();
    return reused.worker;
  }
  const worker = new Worker(await layerWorkerUrl(), {
    resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB, maxYoungGenerationSizeMb: 16 },
    // The extractor opens its fds with openat2 (koffi), not fs.open, and closes them with
    // fs.closeSync: fd tracking would warn on every close ("closed but not opened in unmanaged
    // mode") and could not close those fds on exit anyway. The worker closes its own fds on every
    // path (extractTar's finally, LayerSync.abandon); terminate() only follows its report.
    trackUnmanagedFds: false,
    stdout: false,
    stderr: false,
  });
  alive++;
  worker.on('exit', () => {
    drop(worker);
    // The workers' freed C memory stays mapped in their malloc arenas until trimmed (pkg/sys/malloc-trim.ts).
    if (--alive === 0) mallocTrim();
  });
  // An idle worker has no job's listeners: without one of its own, its 'error' (a crash) would be
  // an unhandled 'error' event and end the daemon. A job's own listener reports it during a layer.
  worker.on('error', () => drop(worker));
  return worker;
}

/** Hands back a worker whose last layer succeeded and which has no listeners of a job left. */
export function releaseLayerWorker(worker: Worker): void {
  if (idle.length >= MAX_IDLE) {
    void worker.terminate();
    return;
  }
  worker.unref();
  const timer = setTimeout(() => {
    drop(worker);
    void worker.terminate();
  }, IDLE_MS);
  timer.unref();
  idle.push({ worker, timer });
}
