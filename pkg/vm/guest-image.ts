// The guest image (kernel, initramfs, erofs root with node + agent + crun) built by
// deploy/guest/build-guest.sh under <root>/guest/<stamp>/; the script only rebuilds when inputs change.
import { execFile, spawn } from 'node:child_process';
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

/** A run of the build script: its result, and a way to stop it. */
interface BuildRun {
  image: Promise<GuestImage>;
  /** Stops the script and its children (dpkg-deb, mkfs.erofs...) and resolves once they exited. */
  cancel(): Promise<void>;
}

/** Runs of the build script in progress, per root: every VM handler asks at daemon start. */
const building = new Map<string, BuildRun>();

/** Longest a build may take: a cold build (kernel .deb download, erofs) is ~1 min; 15 min is a hang. */
const BUILD_TIMEOUT_MS = 15 * 60_000;
/** Cap on the script's stdout (one path per line; anything longer is a broken script). */
const MAX_STDOUT = 1 << 20;

/**
 * Starts build-guest.sh in a process group of its own, so stopping it reaches the tool it is
 * running: a daemon stopped mid-build once left the script extracting a kernel into
 * <root>/guest/.build-* after it exited (seen as ENOTEMPTY removing a test's root).
 */
function startBuild(root: string, script: string): BuildRun {
  const child = spawn('bash', [script, root], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    if (stdout.length < MAX_STDOUT) stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-8192); // the tail names the failing step
  });
  const exited = new Promise<number | null>((res) => {
    child.on('error', () => res(null));
    child.on('close', (code) => res(code));
  });
  const killGroup = (sig: NodeJS.Signals): void => {
    try {
      if (child.pid) process.kill(-child.pid, sig);
    } catch {
      /* the group is gone already */
    }
  };
  let cancelled = false;
  const timer = setTimeout(() => killGroup('SIGTERM'), BUILD_TIMEOUT_MS);
  timer.unref();
  const image = exited.then((code) => {
    clearTimeout(timer);
    if (cancelled) throw new Error('guest image build stopped: the handler is closing');
    if (code !== 0) throw new Error(`build-guest.sh failed (exit ${code}): ${stderr.trim().split('\n').slice(-5).join('\n')}`);
    const dir = stdout.trim().split('\n').pop() ?? '';
    return readGuestImage(dir);
  });
  return {
    image,
    async cancel() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      cancelled = true;
      // The script traps TERM to remove its work dir; KILL after 10 s if a child ignores TERM.
      killGroup('SIGTERM');
      const late = setTimeout(() => killGroup('SIGKILL'), 10_000);
      await exited;
      clearTimeout(late);
    },
  };
}

/** Builds (or reuses) the guest image under <root>/guest; concurrent callers share one run. */
export function ensureGuestImage(root: string, script = buildScriptPath()): Promise<GuestImage> {
  let run = building.get(root);
  if (!run) {
    run = startBuild(root, script);
    building.set(root, run);
    const done = (): void => {
      if (building.get(root) === run) building.delete(root);
    };
    run.image.then(done, done);
  }
  return run.image;
}

/** Stops a build of <root>'s guest image in progress (daemon shutdown); no-op when none runs. */
export async function cancelGuestImageBuild(root: string): Promise<void> {
  await building.get(root)?.cancel();
}

/** A read-only erofs image of a directory (container rootfs / layer chain); owners kept unless allRoot. */
export async function mkErofs(srcDir: string, outFile: string, opts: { allRoot?: boolean } = {}): Promise<void> {
  await execFileP('mkfs.erofs', [...(opts.allRoot ? ['--all-root'] : []), '-T0', outFile, srcDir], { maxBuffer: 16 << 20 });
}
