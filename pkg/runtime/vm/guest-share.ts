// The pod VM's virtio-fs share, laid out as Kata lays its shared dir. The guest is untrusted and
// virtiofsd gives it write access to whatever it serves, so the host never works in a tree the
// guest can write:
//   <vm>/share-src  the staging tree: the host creates container dirs and bind-mounts rootfs and
//                   volumes here; a shared mount of its own, 0700, never served to the guest;
//   <vm>/share      what virtiofsd serves: a read-only, nosuid, nodev slave bind of share-src.
// Binds made in share-src propagate into share; the guest can write inside a container's rootfs
// and rw volumes (their own mounts, as on a runc node) but not the dirs the host mkdirs and mounts
// into, so it can't plant a symlink there (the class of Kata CVE-2020-2026), and every bind
// carries nosuid/nodev on the host (what the guest creates can't become a setuid binary or a
// device node for host users) and ro when the volume is read-only (CVE-2020-28914's class).
// VMs booted before this layout have no share-src: there the host binds into share directly.
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { detachAllUnder } from '../../sys/mounts-under.js';
import { detachIfMounted, mount, MS_BIND, MS_NODEV, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC, MS_REMOUNT, MS_SHARED, MS_SLAVE } from '../../sys/mount.js';

export interface GuestShare {
  /** Where the host binds container rootfs and volumes. */
  stageDir: string;
  /** What virtiofsd serves to the guest. */
  shareDir: string;
}

/** The share of an existing VM dir (either layout). */
export function guestShareOf(vmDir: string): GuestShare {
  const shareDir = join(vmDir, 'share');
  const stageDir = join(vmDir, 'share-src');
  return { stageDir: existsSync(stageDir) ? stageDir : shareDir, shareDir };
}

/** Creates the staging tree and the guest's read-only view of it (before virtiofsd starts). */
export function createGuestShare(vmDir: string): GuestShare {
  const s: GuestShare = { stageDir: join(vmDir, 'share-src'), shareDir: join(vmDir, 'share') };
  mkdirSync(s.stageDir, { recursive: true, mode: 0o700 });
  mkdirSync(s.shareDir, { recursive: true, mode: 0o700 });
  try {
    // A peer group of its own (private first: a bind inherits the parent mount's group, which on
    // systemd hosts is shared with every other mount namespace).
    mount(s.stageDir, s.stageDir, null, MS_BIND);
    mount(null, s.stageDir, null, MS_PRIVATE);
    mount(null, s.stageDir, null, MS_SHARED);
    mount(s.stageDir, s.shareDir, null, MS_BIND);
    mount(null, s.shareDir, null, MS_SLAVE);
    mount(null, s.shareDir, null, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV);
  } catch (e) {
    releaseGuestShare(vmDir);
    throw e;
  }
  return s;
}

export interface ShareBind {
  /** Host path to expose. */
  source: string;
  /** Path under the share (<container id>/rootfs, <container id>/vol0 ...). */
  rel: string;
  recursive: boolean;
  readonly: boolean;
}

/** Binds source at rel in the staging tree; the guest sees it at rel in the share. */
export function bindIntoShare(s: GuestShare, b: ShareBind): void {
  const target = join(s.stageDir, b.rel);
  if (statSync(b.source).isDirectory()) mkdirSync(target, { recursive: true });
  else {
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, '');
  }
  mount(b.source, target, null, b.recursive ? MS_BIND | MS_REC : MS_BIND);
  // Per-mount flags are set by a remount and do not propagate: the guest's copy is remounted too.
  const flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | (b.readonly ? MS_RDONLY : 0);
  mount(null, target, null, flags);
  if (s.stageDir !== s.shareDir) mount(null, join(s.shareDir, b.rel), null, flags);
}

/** Detaches everything bound under rel (both views) and removes its staging dir. */
export function removeFromShare(s: GuestShare, rel: string): void {
  detachAllUnder(join(s.stageDir, rel));
  if (s.stageDir !== s.shareDir) detachAllUnder(join(s.shareDir, rel));
  // Nothing is mounted below any more: rm can't reach through into a rootfs or volume.
  rmSync(join(s.stageDir, rel), { recursive: true, force: true });
}

/** Detaches the whole share (binds, the view, the staging mount) before the VM dir is deleted. */
export function releaseGuestShare(vmDir: string): void {
  const { stageDir, shareDir } = { stageDir: join(vmDir, 'share-src'), shareDir: join(vmDir, 'share') };
  detachAllUnder(stageDir);
  detachAllUnder(shareDir);
  for (let i = 0; i < 4 && detachIfMounted(shareDir); i++);
  for (let i = 0; i < 4 && detachIfMounted(stageDir); i++);
}
