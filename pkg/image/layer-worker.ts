// The program of a layer worker thread: one layer's compressed bytes in (from the daemon thread,
// which only reads the network), the same single pass as on the daemon thread out
// (unpackLayerStream: size+sha256 of the blob, decompression, diffID, tar parsing, file writes).
// Everything CPU- or syscall-heavy of a pull runs here, so the daemon's event loop keeps serving
// RPCs (issue #18: a Version call waited 17/54/178 ms p50/p90/max during a pull). Workers are
// pooled (layer-worker-pool.ts): jobs arrive one at a time, each a 'job' message and its chunks.
import { setPriority } from 'node:os';
import { Readable } from 'node:stream';
import { parentPort } from 'node:worker_threads';
import { unpackLayerStream } from './layer-unpack.js';
import { fromWire, toWire, type FromLayerWorker, type LayerJob, type ToLayerWorker } from './layer-worker-protocol.js';

/**
 * Nice value of this thread (Linux: per thread; threads it creates, the zstd worker, inherit it).
 * The daemon thread stays at 0: with 4 layers in flight the daemon has ~9 runnable threads, and on
 * a 2-core node the event loop then waits in the run queue behind its own unpacking. At 10 a thread
 * weighs 110 against the event loop's 1024 (CFS). The price is on a node busy with other work:
 * unpacking yields to it too. Bench pull at load 17-20: 9.3 and 9.7 s at nice 10 against 8.9 and
 * 10.4 s at 0 (no visible change); in-process A/B at load 9-10 (fresh workers): 3.9 and 4.2 s
 * against 3.6 and 3.5 s. The event loop's p90 wait roughly halved in both.
 * BULKHEAD_UNPACK_NICE (0-19) overrides it, for measurements (docs/performance.md).
 */
const UNPACK_NICE = niceFromEnv(process.env.BULKHEAD_UNPACK_NICE) ?? 10;

function niceFromEnv(v: string | undefined): number | undefined {
  const n = Number(v);
  return v !== undefined && v !== '' && Number.isInteger(n) && n >= 0 && n <= 19 ? n : undefined;
}

/** Tar pipeline input buffered in this thread before acks stop (and with them the daemon's sends). */
const SOURCE_HIGH_WATER = 1024 * 1024;

const port = parentPort;
if (!port) throw new Error('layer-worker.ts runs only as a worker thread');
try {
  setPriority(UNPACK_NICE); // pid 0: the calling thread
} catch {
  // Raising one's own nice value is always allowed; if the kernel refuses anyway, unpack at 0.
}

/** Lookup ids are never reused across jobs, so a late answer can never reach the wrong job. */
let nextLookup = 0;

/** The blob as the daemon thread sends it; acks bytes once the pipeline has taken them. */
class PortSource extends Readable {
  private owed = 0;
  constructor(private readonly run: JobRun) {
    super({ highWaterMark: SOURCE_HIGH_WATER });
  }
  feed(data: Uint8Array): void {
    const n = data.byteLength;
    if (this.push(Buffer.from(data.buffer, data.byteOffset, n))) this.run.post({ kind: 'ack', bytes: n });
    else this.owed += n;
  }
  override _read(): void {
    if (this.owed === 0) return;
    this.run.post({ kind: 'ack', bytes: this.owed });
    this.owed = 0;
  }
}

class JobRun {
  readonly source = new PortSource(this);
  private readonly lookups = new Map<number, { resolve: (p: string | undefined) => void; reject: (e: Error) => void }>();
  /** Cleared before 'done'/'error' is posted: nothing of this job may reach the daemon after it. */
  private active = true;

  constructor(job: LayerJob) {
    unpackLayerStream(this.source, job.desc, job.diffId, {
      root: job.root,
      allowDevices: job.allowDevices,
      limits: job.limits,
      lowerLookup: job.lowerLookup ? (rel) => this.lookup(rel) : undefined,
    }).then(
      (stats) => this.finish({ kind: 'done', stats }),
      (e: unknown) => this.finish({ kind: 'error', error: toWire(e) }),
    );
  }

  post(m: FromLayerWorker): void {
    if (this.active) port!.postMessage(m);
  }

  private finish(m: FromLayerWorker): void {
    this.post(m);
    this.active = false;
    if (current === this) current = undefined;
  }

  private lookup(rel: string): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      const id = nextLookup++;
      this.lookups.set(id, { resolve, reject });
      this.post({ kind: 'lookup', id, rel });
    });
  }

  onMessage(m: Exclude<ToLayerWorker, { kind: 'job' }>): void {
    switch (m.kind) {
      case 'chunk':
        this.source.feed(m.data);
        return;
      case 'end':
        this.source.push(null);
        return;
      case 'abort':
        this.source.destroy(fromWire(m.error));
        return;
      case 'lookup-result': {
        const l = this.lookups.get(m.id);
        this.lookups.delete(m.id);
        if (m.error) l?.reject(fromWire(m.error));
        else l?.resolve(m.path);
        return;
      }
    }
  }
}

let current: JobRun | undefined;

port.on('message', (m: ToLayerWorker) => {
  if (m.kind === 'job') current = new JobRun(m.job);
  else current?.onMessage(m);
});
