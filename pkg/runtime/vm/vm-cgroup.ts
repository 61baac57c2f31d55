// Where a pod VM's QEMU and virtiofsd live: <pod cgroup>/vm with the cgroupfs driver (written at
// spawn), a transient scope "bulkhead-vm-<pod>.scope" in the pod's slice with the systemd driver.
// systemd owns the tree on a systemd host: a directory made behind its back inside a slice is not
// a unit, is not stopped with the slice and keeps the slice's cgroup from being removed. No pod
// limits on either: the VM's own memory (guest RAM + QEMU) exceeds the containers' limits, which
// the guest enforces itself.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CgroupDriver } from '../../cgroups/driver.js';
import { cgroupDirs } from '../../cgroups/paths.js';
import { ensureCgroup, removeCgroup } from '../../cgroups/pod-cgroup.js';
import { cgroupFsPath } from '../../cgroups/systemd-names.js';
import type { SandboxRecord } from '../../store/records.js';

type PodCgroup = Pick<SandboxRecord, 'id' | 'cgroupParent' | 'cgroupOwned'>;

export class VmPodCgroup {
  constructor(private readonly driver: CgroupDriver | undefined) {}

  private get systemd(): boolean {
    return this.driver?.name === 'systemd';
  }

  /** cgroup.procs files the booter writes QEMU's and virtiofsd's pids to (none with systemd: see place). */
  procsFiles(sb: PodCgroup): string[] {
    if (this.systemd) return [];
    const path = `${cgroupFsPath(sb.cgroupParent)}/vm`;
    ensureCgroup(path);
    return cgroupDirs(path).map((d) => join(d, 'cgroup.procs'));
  }

  /**
   * After spawn. cgroupfs: writes the pids to procsFiles (a warm-pool VM was booted outside any
   * pod; after a cold boot the booter did it already and the write changes nothing). systemd: makes
   * the pod slice (kubelet's exists already) and adopts the pids into the VM's scope in it.
   */
  async place(sb: PodCgroup, pids: number[]): Promise<void> {
    if (!this.systemd || !this.driver) {
      for (const f of this.procsFiles(sb)) {
        for (const pid of pids) {
          try {
            writeFileSync(f, String(pid));
          } catch (e) {
            // A forked helper that exited meanwhile (ESRCH) is not an error; the VM's death is seen elsewhere.
            if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
          }
        }
      }
      return;
    }
    await this.driver.ensurePod(sb.cgroupParent, {}, sb.cgroupOwned);
    await this.driver.adopt(sb.cgroupParent, `vm-${sb.id.slice(0, 16)}`, pids);
  }

  /** At removal: the pod cgroup when ours, else only the VM's part (systemd: the scope went with its processes). */
  async remove(sb: PodCgroup): Promise<void> {
    if (this.systemd && this.driver) {
      if (sb.cgroupOwned) await this.driver.removePod(sb.cgroupParent);
      return;
    }
    const podCgroup = cgroupFsPath(sb.cgroupParent);
    await removeCgroup(sb.cgroupOwned ? podCgroup : `${podCgroup}/vm`);
  }
}
