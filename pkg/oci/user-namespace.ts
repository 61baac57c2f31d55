// Pod user namespaces (CRI NamespaceOption.userns_options, kubelet's `hostUsers: false`): what a
// request may ask for, checked once for the pod and again for each container.
//
// Like containerd 2.x and CRI-O: mode NODE (or no options) = the host's user namespace; mode POD =
// one namespace for the pod and all its containers, with exactly one uid and one gid mapping
// starting at container id 0 (kubelet allocates 65536 ids per pod from 65536 up); CONTAINER and
// TARGET are not defined for user namespaces by the CRI and are refused.
import type * as cri from '../api/cri-types.js';
import { invalidArgument } from '../errors/errors.js';
import type { OciIdMapping } from './spec-types.js';

/** One id range: container ids [containerId, containerId+size) are host ids [hostId, hostId+size). */
export interface IdRange {
  containerId: number;
  hostId: number;
  size: number;
}

export interface PodUserNamespace {
  uids: IdRange;
  gids: IdRange;
}

// uid_t is 32 bits and (uid_t)-1 means "no change" to the kernel: the last usable id is 2^32 - 2.
const MAX_ID = 0xfffffffe;

function range(list: cri.IDMapping__Output[] | null | undefined, what: 'uid' | 'gid', who: string): IdRange {
  const n = list?.length ?? 0;
  if (n !== 1) throw invalidArgument(`${who}: user namespace needs exactly one ${what} mapping, got ${n}`);
  const m = list![0]!;
  const r = { containerId: Number(m.container_id), hostId: Number(m.host_id), size: Number(m.length) };
  if (r.containerId !== 0) throw invalidArgument(`${who}: the ${what} mapping must start at container id 0 (got ${r.containerId})`);
  if (!Number.isSafeInteger(r.size) || r.size < 1) throw invalidArgument(`${who}: the ${what} mapping length must be at least 1 (got ${m.length})`);
  if (!Number.isSafeInteger(r.hostId) || r.hostId + r.size - 1 > MAX_ID) {
    throw invalidArgument(`${who}: the ${what} mapping ${r.hostId}+${r.size} runs past the last host id ${MAX_ID}`);
  }
  // Host id 0 inside the range would make some container id the host's root: never what kubelet
  // sends (its ranges start at 65536), and the pod would own host root's files on every volume.
  if (r.hostId === 0) throw invalidArgument(`${who}: the ${what} mapping must not include host id 0`);
  return r;
}

/** The pod's user namespace from RunPodSandbox's namespace options; undefined = the host's. */
export function podUserNamespace(opts: cri.NamespaceOption__Output | null | undefined, who: string): PodUserNamespace | undefined {
  const u = opts?.userns_options;
  if (!u || u.mode === 'NODE') {
    if (u && (u.uids?.length || u.gids?.length)) throw invalidArgument(`${who}: user namespace mode NODE takes no mappings`);
    return undefined;
  }
  if (u.mode !== 'POD') throw invalidArgument(`${who}: user namespace mode ${String(u.mode)} is not supported (only NODE and POD)`);
  // hostNetwork/hostIPC/hostPID with hostUsers: false is refused by the Kubernetes API too: a
  // namespace the pod does not own cannot be administered (or /sys mounted) from its user namespace.
  for (const kind of ['network', 'ipc', 'pid'] as const) {
    if (opts?.[kind] === 'NODE') throw invalidArgument(`${who}: a user-namespace pod cannot share the host's ${kind} namespace`);
  }
  return { uids: range(u.uids, 'uid', who), gids: range(u.gids, 'gid', who) };
}

const same = (a: IdRange, b: IdRange) => a.containerId === b.containerId && a.hostId === b.hostId && a.size === b.size;

/**
 * A container's own namespace options must agree with its pod's: kubelet copies the pod's
 * userns_options into every container; absent ones inherit the pod's.
 */
export function checkContainerUserNamespace(opts: cri.NamespaceOption__Output | null | undefined, pod: PodUserNamespace | undefined, who: string): void {
  if (!opts?.userns_options) return;
  const mine = opts.userns_options.mode === 'NODE' ? undefined : podUserNamespace({ ...opts, userns_options: opts.userns_options }, who);
  if (!mine && !pod) return;
  if (!mine || !pod || !same(mine.uids, pod.uids) || !same(mine.gids, pod.gids)) {
    throw invalidArgument(`${who}: the container's user namespace options differ from its pod's`);
  }
}

export function ociMappings(r: IdRange): OciIdMapping[] {
  return [{ containerID: r.containerId, hostID: r.hostId, size: r.size }];
}
