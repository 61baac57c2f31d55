// Messages between the daemon thread and the mount worker (mount-worker.ts). A syscall's failure
// crosses the thread boundary as its errno, syscall and path, and is rebuilt on the daemon thread
// with sysError: the same Error as the synchronous calls throw (structured clone would keep only
// an Error's message, not its code/errno fields).
import type { SysError } from './mount.js';

export type MountOp =
  | { op: 'mount'; source: string | null; target: string; fstype: string | null; flags: number; data: string | null }
  | { op: 'umount2'; target: string; flags: number }
  /** detachIfMounted: reply.detached says whether it unmounted. */
  | { op: 'detach'; target: string };

export type MountRequest = MountOp & { id: number };

/** A failure: a syscall's (errno set) or anything else the worker threw (message only). */
export interface MountWireError {
  message: string;
  errno?: number;
  syscall?: string;
  path?: string;
}

export type MountReply = { id: number; ok: true; detached?: boolean } | { id: number; ok: false; error: MountWireError };

export function toMountWire(e: unknown): MountWireError {
  if (!(e instanceof Error)) return { message: String(e) };
  const s = e as Partial<SysError>;
  if (typeof s.errno !== 'number' || typeof s.syscall !== 'string') return { message: e.message };
  const w: MountWireError = { message: e.message, errno: s.errno, syscall: s.syscall };
  if (typeof s.path === 'string') w.path = s.path;
  return w;
}
