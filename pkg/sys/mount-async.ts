// mount(2) and umount2(2) off the event loop, on one worker thread (mount-worker.ts). Issue #18's
// 20-pod burst (bench `concurrent`, 100 pods, CPU profile, load 8-16 on 2 cores) spent 385 and
// 751 ms of the daemon thread inside the synchronous calls, in blocks of up to 28 and 113 ms; 60 %
// of it the lazy umount of the overlay rootfs (unmountRootfs), then the netns and shm detaches and
// the overlay and tmpfs mounts. Sequential pods at load 4: 1.8 ms per pod, blocks under 5 ms.
//
// Semantics are the synchronous calls' (mount.ts): the worker shares the process's mount namespace,
// runs requests one at a time in the order they were made, and a failure is the same SysError
// (code, errno, syscall, path, message). Code that needs a mount done before it goes on without
// awaiting (a child's setup, startup) keeps the synchronous calls.
//
// The worker starts with the first call and is unref'd while no call is pending, so it never
// keeps the process alive. Idle, it ends after IDLE_MS: alive it adds ~11.5 MiB of RSS to a
// process that has koffi loaded already (2 MiB stay after it ended and malloc_trim ran), and the
// daemon's idle RSS is one of issue #18's targets. A start costs ~90 ms of wall time in the new thread and ~5 ms on this one
// (measured 2026-12-05, idle 2-core machine); a call's round trip ~60 us.
import { Worker } from 'node:worker_threads';
import { mallocTrim } from './malloc-trim.js';
import { sysError } from './mount.js';
import type { MountOp, MountReply, MountWireError } from './mount-worker-protocol.js';
import { workerUrl } from './worker-url.js';

/** As long as the layer worker pool's (pkg/image/layer-worker-pool.ts): bench/scenarios/idle-memory.ts waits 6 s for both. */
const IDLE_MS = 5_000;

type Settle = (r: MountReply) => void;

/** The worker (started lazily); undefined again once it has ended, so the next call starts another. */
let current: Promise<MountWorker> | undefined;
/** Ids are never reused, so a late reply can never settle another call. */
let nextId = 0;

/** mount(2) on the mount worker. `fstype` and `data` may be null (bind mounts, propagation changes). */
export async function mountAsync(source: string | null, target: string, fstype: string | null, flags: number, data: string | null = null): Promise<void> {
  await call({ op: 'mount', source, target, fstype, flags, data });
}

/** umount2(2) on the mount worker, e.g. umount2Async(path, MNT_DETACH). */
export async function umount2Async(target: string, flags = 0): Promise<void> {
  await call({ op: 'umount2', target, flags });
}

/** detachIfMounted on the mount worker: a lazy unmount; "not mounted" (EINVAL) and "gone" (ENOENT) are done. Resolves to whether it unmounted. */
export async function detachIfMountedAsync(target: string): Promise<boolean> {
  return (await call({ op: 'detach', target })).detached === true;
}

/** Sends one request; its failure is rethrown here, so the stack shows the awaiting caller. */
async function call(op: MountOp): Promise<{ detached?: boolean }> {
  const reply = await (await started()).request(op);
  if (!reply.ok) throw fromWire(reply.error);
  return reply;
}

function fromWire(w: MountWireError): Error {
  if (w.errno !== undefined && w.syscall !== undefined) return sysError(w.syscall, w.errno, w.path);
  return new Error(`mount worker: ${w.message}`);
}

function started(): Promise<MountWorker> {
  if (current) return current;
  const forget = () => {
    if (current === starting) current = undefined;
  };
  const starting = workerUrl('pkg/sys/mount-worker.js', import.meta.url)
    .then((url) => new MountWorker(new Worker(url, { stdout: false, stderr: false }), forget))
    .catch((e: unknown) => {
      forget(); // the next call tries again
      throw e;
    });
  current = starting;
  return starting;
}

class MountWorker {
  private readonly pending = new Map<number, Settle>();
  private idleTimer: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(
    private readonly worker: Worker,
    private readonly onEnd: () => void,
  ) {
    worker.on('message', (r: MountReply) => this.reply(r));
    // Without a listener a worker's crash would be an unhandled 'error' event and end the daemon.
    worker.on('error', (e) => this.end(`worker failed: ${e.message}`));
    worker.on('exit', (code) => {
      this.end(`worker exited (${code})`);
      // Its freed C memory stays mapped in its malloc arena until trimmed (pkg/sys/malloc-trim.ts).
      mallocTrim();
    });
  }

  /** Requests are posted in call order and the worker answers them in that order. */
  request(op: MountOp): Promise<MountReply> {
    const id = nextId++;
    if (this.ended) return Promise.resolve({ id, ok: false, error: { message: 'worker has ended' } });
    clearTimeout(this.idleTimer);
    this.worker.ref();
    this.worker.postMessage({ ...op, id });
    return new Promise((resolve) => this.pending.set(id, resolve));
  }

  private reply(r: MountReply): void {
    const settle = this.pending.get(r.id);
    this.pending.delete(r.id);
    settle?.(r);
    if (this.pending.size === 0 && !this.ended) this.idle();
  }

  private idle(): void {
    this.worker.unref();
    this.idleTimer = setTimeout(() => {
      this.end('worker has ended');
      void this.worker.terminate();
    }, IDLE_MS);
    this.idleTimer.unref();
  }

  /** Fails what is still pending (the syscall may or may not have run) and lets the next call start a new worker. */
  private end(message: string): void {
    clearTimeout(this.idleTimer);
    if (!this.ended) {
      this.ended = true;
      this.onEnd();
    }
    for (const [id, settle] of this.pending) settle({ id, ok: false, error: { message } });
    this.pending.clear();
  }
}
