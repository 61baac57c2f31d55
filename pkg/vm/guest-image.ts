// The guest image (kernel, initramfs, erofs root with node + agent + crun) built by
// deploy/guest/build-guest.sh under <root>/guest/<stamp>/; the script only rebuilds when inputs change.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface GuestImage {
  dir: string;
  stamp: string;
  kernel: string;
  initrd: string;
  rootfs: string;
  kernelRelease: string;
}

/** deploy/guest/build-guest.sh of this checkout/installation (works from src and from dist/). */
export function buildScriptPath(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(d, 'deploy', 'guest', 'build-guest.sh');
    if (existsSync(p)) return p;
    d = dirname(d);
  }
  throw new Error('deploy/guest/build-guest.sh not found');
}

export function readGuestImage(dir: string): GuestImage {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { stamp: string; kernel_release: string };
  return {
    dir,
    stamp: manifest.stamp,
    kernel: join(dir, 'vmlinux'),
    initrd: join(dir, 'initrd.cpio'),
    rootfs: join(dir, 'rootfs.erofs'),
    kernelRelease: manifest.kernel_release,
  };
}

/** Runs of the build script in progress, per root: every VM handler asks at daemon start. */
const building = new Map<string, Promise<GuestImage>>();

/** Builds (or reuses) the guest image under <root>/guest; concurrent callers share one run. */
export function ensureGuestImage(root: string): Promise<GuestImage> {
  let p = building.get(root);
  if (!p) {
    p = execFileP('bash', [buildScriptPath(), root], { maxBuffer: 16 << 20, timeout: 15 * 60_000 })
      .then(({ stdout }) => readGuestImage(stdout.trim().split('\n').pop()!))
      .finally(() => building.delete(root));
    building.set(root, p);
  }
  return p;
}

/** A read-only erofs image of a directory (container rootfs / layer chain); owners kept unless allRoot. */
export async function mkErofs(srcDir: string, outFile: string, opts: { allRoot?: boolean } = {}): Promise<void> {
  await execFileP('mkfs.erofs', [...(opts.allRoot ? ['--all-root'] : []), '-T0', outFile, srcDir], { maxBuffer: 16 << 20 });
}
