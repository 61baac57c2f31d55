// The program of the mount worker thread (mount-async.ts starts it): mount(2) and umount2(2) run
// here, synchronously, one request at a time, in the order they arrive. Threads share the
// process's mount namespace, so a mount made here is the daemon's. koffi.errno() returns the
// calling thread's errno (koffi 2.16.3 keeps no copy per call), so it must be read on the thread
// that made the call, right after it: a synchronous call on this thread. koffi's `.async` calls
// run on libuv's pool and their callback runs on the daemon thread: 20 failed umount2.async calls
// (EINVAL and ENOENT expected) all read errno 0, and EBADF after a close(-1) on the daemon thread;
// the same 20 calls made synchronously in a worker all read the right errno (2026-12-05).
import { parentPort } from 'node:worker_threads';
import { detachIfMounted, mount, umount2 } from './mount.js';
import { toMountWire, type MountReply, type MountRequest } from './mount-worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('mount-worker.ts runs only as a worker thread');

port.on('message', (r: MountRequest) => port.postMessage(run(r)));

function run(r: MountRequest): MountReply {
  try {
    switch (r.op) {
      case 'mount':
        mount(r.source, r.target, r.fstype, r.flags, r.data);
        return { id: r.id, ok: true };
      case 'umount2':
        umount2(r.target, r.flags);
        return { id: r.id, ok: true };
      case 'detach':
        return { id: r.id, ok: true, detached: detachIfMounted(r.target) };
    }
  } catch (e) {
    return { id: r.id, ok: false, error: toMountWire(e) };
  }
}
