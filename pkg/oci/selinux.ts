// SELinux labels. Bulkhead does not label processes or relabel volumes yet. On a host without
// SELinux (Debian and Ubuntu, where it is shipped disabled) there is nothing to label with, and
// the request is accepted and not applied, as containerd does with selinux disabled. On a host where
// SELinux is enabled, a pod asking for labels or relabeling is refused instead of running with the
// runtime's own label, which would defeat the policy the pod relies on.
import { existsSync } from 'node:fs';
import type * as cri from '../api/cri-types.js';
import { failedPrecondition } from '../errors/errors.js';

/** SELinux is enabled when selinuxfs is mounted (libselinux's is_selinux_enabled). */
export function selinuxEnabled(sysRoot = '/sys'): boolean {
  return existsSync(`${sysRoot}/fs/selinux/enforce`);
}

function asksForLabel(o: cri.SELinuxOption__Output | null | undefined): boolean {
  return !!o && !!(o.user || o.role || o.type || o.level);
}

/** Throws FailedPrecondition when SELinux is enabled and the container asks for a label or relabeling. */
export function checkSelinux(
  enabled: boolean,
  what: string,
  req: { options?: cri.SELinuxOption__Output | null; podOptions?: cri.SELinuxOption__Output | null; mounts?: readonly { selinux_relabel?: boolean; container_path?: string }[] },
): void {
  if (!enabled) return;
  const relabel = (req.mounts ?? []).find((m) => m.selinux_relabel);
  if (asksForLabel(req.options) || asksForLabel(req.podOptions) || relabel) {
    const why = relabel ? `relabeling of mount ${relabel.container_path ?? ''}` : 'an SELinux label';
    throw failedPrecondition(`${what} asks for ${why}, but Bulkhead does not apply SELinux labels yet and SELinux is enabled on this node`);
  }
}
