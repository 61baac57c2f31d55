// The micro-VM share as the guest sees it (what virtiofsd serves), without booting a VM: the host
// binds into a private staging tree; the guest's view is read-only at every dir the host creates,
// read-only volumes are read-only on the host as well, and every bind is nosuid,nodev.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bindIntoShare, createGuestShare, guestShareOf, releaseGuestShare, removeFromShare } from '../pkg/runtime/vm/guest-share.js';
import { mountPointsUnder } from '../pkg/sys/mounts-under.js';

const root = mkdtempSync(join(tmpdir(), 'bulkhead-guest-share-'));
afterAll(() => {
  releaseGuestShare(join(root, 'vm'));
  rmSync(root, { recursive: true, force: true });
});

function mountOptions(path: string): string[] {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[4] === path) return (f[5] ?? '').split(',');
  }
  return [];
}

function errnoOf(f: () => void): string | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code;
  }
}

describe('micro-VM guest share layout', () => {
  const vmDir = join(root, 'vm');
  const rw = join(root, 'vol-rw');
  const ro = join(root, 'vol-ro');
  const rootfs = join(root, 'rootfs');
  for (const d of [rw, ro, rootfs]) mkdirSync(d);
  writeFileSync(join(ro, 'keep'), 'original');

  it('serves the guest a read-only view: no file or symlink can be planted where the host mounts', () => {
    const share = createGuestShare(vmDir);
    expect(guestShareOf(vmDir)).toEqual(share);
    expect(mountOptions(share.shareDir)).toEqual(expect.arrayContaining(['ro', 'nosuid', 'nodev']));
    expect(errnoOf(() => writeFileSync(join(share.shareDir, 'planted'), 'x'))).toBe('EROFS');
    expect(errnoOf(() => symlinkSync('/etc', join(share.shareDir, 'c1')))).toBe('EROFS');
  });

  it('binds propagate into the view with their own mode; read-only volumes are read-only on the host', () => {
    const share = guestShareOf(vmDir);
    bindIntoShare(share, { source: rootfs, rel: 'c1/rootfs', recursive: true, readonly: false });
    bindIntoShare(share, { source: rw, rel: 'c1/vol0', recursive: false, readonly: false });
    bindIntoShare(share, { source: ro, rel: 'c1/vol1', recursive: false, readonly: true });
    // the guest's dirs above the binds stay read-only
    expect(errnoOf(() => symlinkSync('/etc', join(share.shareDir, 'c1', 'vol2')))).toBe('EROFS');
    // the rootfs and rw volume are writable through the view, and land in their sources
    writeFileSync(join(share.shareDir, 'c1/rootfs/f'), 'guest');
    writeFileSync(join(share.shareDir, 'c1/vol0/f'), 'guest');
    expect(readFileSync(join(rootfs, 'f'), 'utf8')).toBe('guest');
    expect(readFileSync(join(rw, 'f'), 'utf8')).toBe('guest');
    // the read-only volume can't be written through either view
    expect(errnoOf(() => writeFileSync(join(share.shareDir, 'c1/vol1/keep'), 'guest'))).toBe('EROFS');
    expect(errnoOf(() => writeFileSync(join(share.stageDir, 'c1/vol1/keep'), 'guest'))).toBe('EROFS');
    expect(readFileSync(join(ro, 'keep'), 'utf8')).toBe('original');
    for (const rel of ['c1/rootfs', 'c1/vol0', 'c1/vol1']) {
      expect(mountOptions(join(share.shareDir, rel))).toEqual(expect.arrayContaining(['nosuid', 'nodev']));
    }
    expect(mountOptions(join(share.shareDir, 'c1/vol1'))).toContain('ro');
  });

  it('removing a container detaches its binds from both views and leaves the sources intact', () => {
    const share = guestShareOf(vmDir);
    removeFromShare(share, 'c1');
    expect(mountPointsUnder(join(share.stageDir, 'c1'))).toEqual([]);
    expect(mountPointsUnder(join(share.shareDir, 'c1'))).toEqual([]);
    expect(existsSync(join(share.stageDir, 'c1'))).toBe(false);
    expect(readFileSync(join(rw, 'f'), 'utf8')).toBe('guest');
    expect(readFileSync(join(ro, 'keep'), 'utf8')).toBe('original');
    releaseGuestShare(vmDir);
    expect(mountPointsUnder(vmDir)).toEqual([]);
  });
});
