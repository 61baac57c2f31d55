// A pooled VM runs one throw-away container before it is handed to a pod. Under TCG every guest code
// path is translated the first time it runs, and that first time costs most: in one VM pod the
// first container took 258 ms to create and 770 ms to start in the guest, the third 143 + 293 ms
// (2026-12-05). A pool VM waits anyway, so it pays that instead of the pod: the SetupSandbox sh with
// busybox `ip`, a fork of this Node process for crun, and crun making namespaces, mounts and a
// cgroup and exec'ing a static binary, as a pod's first container does. Under KVM it only warms the
// guest page cache (crun and its libraries).
import { copyFileSync, existsSync, mkdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, runAll } from './exec-file.js';
import { CGROUP_ROOT, adaptSpec, ensureParentCgroup } from './guest-system.js';

export const WARM_UP_ID = 'bulkhead-warm-up';

/** A minimal container like the ones the host sends: its own pid and mount namespaces, the usual mounts, read-only root. */
export function warmUpSpec(): Record<string, unknown> {
  const caps = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_NET_BIND_SERVICE'];
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: ['/bin/busybox', 'true'],
      env: ['PATH=/bin'],
      cwd: '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'mount' }],
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      maskedPaths: ['/proc/kcore', '/proc/keys', '/sys/firmware'],
      readonlyPaths: ['/proc/bus', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

/** Runs the throw-away container in `dir` (made and removed here). `busybox` must be static: the rootfs holds nothing else. */
export async function warmUp(dir: string, crunArgs: readonly string[], busybox = '/bin/busybox'): Promise<void> {
  rmSync(dir, { recursive: true, force: true });
  const rootfs = join(dir, 'rootfs');
  for (const d of ['bin', 'proc', 'dev', 'sys']) mkdirSync(join(rootfs, d), { recursive: true });
  copyFileSync(busybox, join(rootfs, 'bin', 'busybox'));
  const spec = adaptSpec(warmUpSpec(), rootfs, WARM_UP_ID, undefined, false);
  // adaptSpec binds the pod's /etc files, which a pool VM has not been given yet.
  spec.mounts = (spec.mounts as { type?: string; source?: string }[]).filter((m) => m.type !== 'bind' || (m.source !== undefined && existsSync(m.source)));
  try {
    ensureParentCgroup(WARM_UP_ID);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
    await runAll([['ip', 'link', 'show'], ['ip', 'route', 'show']]);
    await run('crun', [...crunArgs, 'run', '--bundle', dir, WARM_UP_ID]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    try {
      rmdirSync(join(CGROUP_ROOT, 'bulkhead', WARM_UP_ID));
    } catch {
      /* not made, or crun's child cgroup still there after a failure: an empty dir, harmless */
    }
  }
}
