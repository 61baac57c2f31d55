// Turns the host-built OCI spec of a container into one valid inside the pod VM: host paths do not
// exist there. Pod files (resolv.conf, hosts, hostname) map to the guest's own copies (written by the
// agent from SetupSandbox), the pod shm becomes a guest tmpfs, and every other bind mount (CRI volumes)
// is exposed through the pod's virtio-fs share and re-pointed at the guest path, except a memory-backed
// emptyDir, which becomes a tmpfs in guest RAM (ephemeral-volume.ts) bound from the agent's dir.
import { readFileSync } from 'node:fs';
import { invalidArgument } from '../../errors/errors.js';
import { GUEST_DEVICES_ANNOTATION, GUEST_EPHEMERAL_DIR, GUEST_SHARE_DIR } from '../../vmchannel/protocol.js';
import { probeEphemeral, type EphemeralSource, type EphemeralVolume } from './ephemeral-volume.js';
import { takeCpusets, type Cpusets } from './vcpu-pinning.js';

export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface PodFilesOnHost {
  resolvConf?: string;
  hosts?: string;
  hostname?: string;
  shm?: string;
}

export interface ShareRequest {
  /** Host path to expose. */
  source: string;
  /** Name under the container's share dir (vol0, vol1, vol0-sub0...). */
  name: string;
  /** Bind with MS_REC (a host submount's own tree) or not (a volume: its submounts get shares of their own). */
  recursive: boolean;
  /** Bound read-only on the host too: the guest's own ro mount is only the guest kernel's word. */
  readonly: boolean;
}

/** Guest mount point of the pod share, and the annotation asking for the guest's devices: protocol constants. */
export { GUEST_SHARE_DIR, GUEST_DEVICES_ANNOTATION };

/** A host mount strictly below some directory: its path relative to it and whether it is read-only. */
export interface SubMount {
  rel: string;
  readonly: boolean;
}

/** Mounts below dir on the host (from /proc/self/mountinfo), shallowest first. */
export function hostSubmounts(dir: string): SubMount[] {
  const out: SubMount[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const mp = f[4]?.replace(/\\040/g, ' ');
    if (!mp || !mp.startsWith(dir + '/')) continue;
    out.push({ rel: mp.slice(dir.length + 1), readonly: (f[5] ?? '').split(',').includes('ro') });
  }
  return out.sort((a, b) => a.rel.split('/').length - b.rel.split('/').length);
}


export function rewriteSpecForGuest(
  spec: Record<string, unknown>,
  containerId: string,
  podFiles: PodFilesOnHost,
  submounts: (dir: string) => SubMount[] = hostSubmounts,
  opts: { privileged?: boolean; ephemeral?: (source: string) => EphemeralSource | undefined } = {},
): { spec: Record<string, unknown>; shares: ShareRequest[]; cpusets: Cpusets; ephemeral: EphemeralVolume[] } {
  const ephemeralOf = opts.ephemeral ?? probeEphemeral;
  const linux = (spec.linux ?? {}) as Record<string, unknown>;
  // Host CPU and memory-node numbers (kubelet's CPU manager) mean nothing in the guest: they pin the
  // VM's vCPU threads on the host instead (vcpu-pinning.ts).
  const cpusets = takeCpusets(linux.resources as { cpu?: { cpus?: string; mems?: string } } | undefined);
  const devices = (linux.devices ?? []) as unknown[];
  if (opts.privileged) {
    // A privileged container in a VM pod is privileged in the guest: the host's device nodes (which
    // the spec builder listed) mean nothing there; the agent lists the guest's instead.
    linux.devices = [];
    spec.annotations = { ...((spec.annotations ?? {}) as Record<string, string>), [GUEST_DEVICES_ANNOTATION]: 'all' };
  } else if (devices.length > 0) throw invalidArgument('host devices cannot be passed into a micro-VM pod');
  const shares: ShareRequest[] = [];
  const mounts: OciMount[] = [];
  const ephemeral: EphemeralVolume[] = [];
  for (const m of (spec.mounts ?? []) as OciMount[]) {
    const isBind = m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
    if (!isBind || !m.source) {
      mounts.push(m);
      continue;
    }
    if (m.source === podFiles.resolvConf) mounts.push({ ...m, source: '/etc/resolv.conf' });
    else if (m.source === podFiles.hosts) mounts.push({ ...m, source: '/etc/hosts' });
    else if (m.source === podFiles.hostname) mounts.push({ ...m, source: '/etc/hostname' });
    else if (m.source === podFiles.shm) mounts.push({ destination: m.destination, type: 'tmpfs', source: 'shm', options: ['nosuid', 'nodev', 'noexec', 'mode=1777', 'size=65536k'] });
    else {
      const opts = m.options ?? [];
      // Propagation needs the host's mount namespace on both ends: a VM has its own kernel.
      if (opts.some((o) => /^r?(shared|slave)$/.test(o))) {
        throw invalidArgument(`mount ${m.destination}: mount propagation to/from the host (PROPAGATION_HOST_TO_CONTAINER/BIDIRECTIONAL) cannot cross the micro-VM boundary`);
      }
      const eph = ephemeralOf(m.source);
      if (eph) {
        // Made once per pod by the agent (the first container's size and mode win: they are the
        // volume's, the same for every container); nothing of the host's tmpfs is shared.
        if (!ephemeral.some((e) => e.name === eph.volume.name)) ephemeral.push(eph.volume);
        const guestSource = [GUEST_EPHEMERAL_DIR, eph.volume.name, ...(eph.rel ? [eph.rel] : [])].join('/');
        mounts.push({ ...m, type: 'bind', source: guestSource });
        continue;
      }
      const name = `vol${shares.length}`;
      const guestSource = `${GUEST_SHARE_DIR}/${containerId}/${name}`;
      const ro = opts.includes('ro') || opts.includes('rro');
      shares.push({ source: m.source, name, recursive: false, readonly: ro });
      mounts.push({ ...m, source: guestSource });
      // The volume is shared without its host submounts: a recursive bind would put a second mount on
      // their mount-point dentries in the daemon's mount namespace, and the host could no longer remove
      // such a directory once it unmounted its own (EBUSY). Each submount gets a share of its own,
      // bound over the same place in the guest with its host mode (read-only under rro, since
      // virtio-fs shows one file system per share and the guest bind carries the mode).
      const rro = opts.includes('rro');
      const all = submounts(m.source);
      // Top-level submounts only: deeper ones come along with their parent's recursive share.
      const top = all.filter((x) => !all.some((y) => y !== x && x.rel.startsWith(y.rel + '/')));
      top.forEach((sub, i) => {
        const subName = `${name}-sub${i}`;
        shares.push({ source: `${m.source}/${sub.rel}`, name: subName, recursive: true, readonly: rro || sub.readonly });
        mounts.push({
          destination: `${m.destination}/${sub.rel}`,
          type: 'bind',
          source: `${GUEST_SHARE_DIR}/${containerId}/${subName}`,
          options: ['rbind', rro || sub.readonly ? 'ro' : 'rw'],
        });
      });
    }
  }
  // Inside the guest every mount is private.
  for (const m of mounts) if (m.options) m.options = m.options.filter((o) => !/^r?(shared|slave|private)$/.test(o));
  delete linux.rootfsPropagation;
  spec.linux = linux;
  spec.mounts = mounts;
  return { spec, shares, cpusets, ephemeral };
}
