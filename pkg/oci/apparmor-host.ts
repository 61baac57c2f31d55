// The node's AppArmor, read from securityfs, and the runtime's default profile loaded with
// apparmor_parser on first use (containerd loads its cri-containerd.apparmor.d the same way).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { failedPrecondition } from '../errors/errors.js';
import type { AppArmorHost } from './apparmor.js';

export const DEFAULT_PROFILE = 'bulkhead-default';
const PARSERS = ['/sbin/apparmor_parser', '/usr/sbin/apparmor_parser'];

// What a container may not do even as root, on top of its capabilities and seccomp: write kernel
// knobs under /proc and /sys (outside its own cgroup tree), read firmware or security fs, mount,
// and trace processes outside the profile.
const DEFAULT_PROFILE_TEXT = `#include <tunables/global>
profile ${DEFAULT_PROFILE} flags=(attach_disconnected,mediate_deleted) {
  #include <abstractions/base>
  network,
  capability,
  file,
  umount,
  signal (receive) peer=unconfined,
  signal (send,receive) peer=${DEFAULT_PROFILE},
  ptrace (trace,read,tracedby,readby) peer=${DEFAULT_PROFILE},
  deny mount,
  deny @{PROC}/* w,
  deny @{PROC}/sys/[^k]** w,
  deny @{PROC}/sys/kernel/{?,??,[^s][^h][^m]**} w,
  deny @{PROC}/sysrq-trigger rwklx,
  deny @{PROC}/kcore rwklx,
  deny /sys/[^f]*/** wklx,
  deny /sys/f[^s]*/** wklx,
  deny /sys/fs/[^c]*/** wklx,
  deny /sys/fs/c[^g]*/** wklx,
  deny /sys/fs/cg[^r]*/** wklx,
  deny /sys/firmware/** rwklx,
  deny /sys/kernel/security/** rwklx,
}
`;

export class SysAppArmor implements AppArmorHost {
  private on: boolean | undefined;
  private defaultLoaded = false;

  constructor(private readonly sysRoot = '/sys') {}

  enabled(): boolean {
    if (this.on === undefined) {
      let param = '';
      try {
        param = readFileSync(`${this.sysRoot}/module/apparmor/parameters/enabled`, 'utf8').trim();
      } catch {
        // no AppArmor in this kernel
      }
      this.on = param === 'Y' && this.parser() !== undefined;
    }
    return this.on;
  }

  /** Why profiles are not applied, for Status; undefined when they are. */
  whyOff(): string | undefined {
    if (this.enabled()) return undefined;
    return existsSync(`${this.sysRoot}/module/apparmor`) ? 'AppArmor is enabled in the kernel but apparmor_parser is missing: profiles are accepted and not applied' : 'the kernel has no AppArmor: profiles are accepted and not applied (as containerd does)';
  }

  isLoaded(profile: string): boolean {
    let text = '';
    try {
      text = readFileSync(`${this.sysRoot}/kernel/security/apparmor/profiles`, 'utf8');
    } catch {
      return false;
    }
    return text.split('\n').some((l) => l.slice(0, l.lastIndexOf(' (')) === profile);
  }

  ensureDefault(): string {
    if (this.defaultLoaded || this.isLoaded(DEFAULT_PROFILE)) {
      this.defaultLoaded = true;
      return DEFAULT_PROFILE;
    }
    // Once per daemon: a synchronous ~50 ms parse, on the first container of an AppArmor node.
    const r = spawnSync(this.parser()!, ['-Kr'], { input: DEFAULT_PROFILE_TEXT, encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw failedPrecondition(`loading AppArmor profile ${DEFAULT_PROFILE}: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim().slice(0, 512)}`);
    this.defaultLoaded = true;
    return DEFAULT_PROFILE;
  }

  private parser(): string | undefined {
    return PARSERS.find((p) => existsSync(p));
  }
}
