import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { detachIfMountedAsync, mountAsync, umount2Async } from './mount-async.js';
import { MNT_DETACH, MS_NODEV, MS_NOEXEC, MS_NOSUID, mount, umount2, type SysError } from './mount.js';

const isRoot = process.getuid?.() === 0;
const top = mkdtempSync(join(tmpdir(), 'bh-mount-async-'));
afterAll(() => {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (mp?.startsWith(top + '/')) umount2(mp, MNT_DETACH); // a failed test's leftovers: rm must not walk into a mount
  }
  rmSync(top, { recursive: true, force: true });
});

let n = 0;
function freshDir(): string {
  const d = join(top, String(n++));
  mkdirSync(d);
  return d;
}

function mountedAt(dir: string): string | undefined {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((l) => l.split(' ')[4] === dir);
}

/** The synchronous call's error, to compare the worker's rebuilt one with. */
function syncError(f: () => void): SysError {
  try {
    f();
  } catch (e) {
    return e as SysError;
  }
  throw new Error('expected a failure');
}

describe.skipIf(!isRoot)('mount(2) and umount2(2) on the mount worker', () => {
  it('mounts a tmpfs and detaches it; a second detach finds nothing to do', async () => {
    const dir = freshDir();
    await mountAsync('bh-test', dir, 'tmpfs', MS_NOSUID | MS_NODEV | MS_NOEXEC, 'size=1m');
    expect(mountedAt(dir)).toMatch(/ - tmpfs bh-test /);
    writeFileSync(join(dir, 'f'), 'x'); // a file on the tmpfs itself
    expect(await detachIfMountedAsync(dir)).toBe(true);
    expect(mountedAt(dir)).toBeUndefined();
    expect(await detachIfMountedAsync(dir)).toBe(false);
  });

  it("peels stacked mounts in a caller's retry loop, one per call", async () => {
    const dir = freshDir();
    for (let i = 0; i < 3; i++) await mountAsync('bh-test', dir, 'tmpfs', 0, 'size=1m');
    let peeled = 0;
    for (let i = 0; i < 8 && (await detachIfMountedAsync(dir)); i++) peeled++;
    expect(peeled).toBe(3);
    expect(mountedAt(dir)).toBeUndefined();
  });

  it('fails with the synchronous SysError: ENOENT, EINVAL (not a mount point, bad option), ENODEV', async () => {
    const dir = freshDir();
    const missing = join(dir, 'missing');
    const cases: Array<[() => Promise<unknown>, () => void, string]> = [
      [() => umount2Async(missing, MNT_DETACH), () => umount2(missing, MNT_DETACH), 'ENOENT'],
      [() => umount2Async(dir), () => umount2(dir), 'EINVAL'],
      [() => mountAsync('bh-test', dir, 'tmpfs', 0, 'size=bogus'), () => mount('bh-test', dir, 'tmpfs', 0, 'size=bogus'), 'EINVAL'],
      [() => mountAsync('bh-test', dir, 'bh-no-such-fs', 0), () => mount('bh-test', dir, 'bh-no-such-fs', 0), 'ENODEV'],
      [() => mountAsync('bh-test', missing, 'tmpfs', 0), () => mount('bh-test', missing, 'tmpfs', 0), 'ENOENT'],
    ];
    for (const [run, runSync, code] of cases) {
      const want = syncError(runSync);
      expect(want.code).toBe(code);
      const got = (await run().then(
        () => undefined,
        (e: unknown) => e,
      )) as SysError;
      expect(got).toBeInstanceOf(Error);
      expect({ code: got.code, errno: got.errno, syscall: got.syscall, path: got.path, message: got.message }).toEqual({
        code: want.code,
        errno: want.errno,
        syscall: want.syscall,
        path: want.path,
        message: want.message,
      });
      // Rethrown on this thread after the reply: the stack leads back to the awaiting test.
      expect(got.stack).toContain('mount-async.test.ts');
    }
    expect(await detachIfMountedAsync(missing)).toBe(false); // ENOENT is "done" for a detach
  });

  it('answers many concurrent calls each with its own result, successes and failures interleaved', async () => {
    const dirs = Array.from({ length: 40 }, () => freshDir());
    await Promise.all(dirs.map((d) => mountAsync('bh-test', d, 'tmpfs', 0, 'size=1m')));
    for (const d of dirs) expect(mountedAt(d)).toBeDefined();
    const results = await Promise.all(
      dirs.flatMap((d) => [
        umount2Async(join(d, 'missing')).then(
          () => 'ok',
          (e: SysError) => `${e.code} ${e.path}`,
        ),
        detachIfMountedAsync(d).then(String),
      ]),
    );
    expect(results).toEqual(dirs.flatMap((d) => [`ENOENT ${join(d, 'missing')}`, 'true']));
    for (const d of dirs) expect(mountedAt(d)).toBeUndefined();
  });
});

describe('the mount worker and the process', () => {
  it('does not keep the process alive once its calls are answered', async () => {
    // A child process runs the client from the sources (bundled like the worker itself, koffi and
    // esbuild external): after its answer it must exit at once, not when the worker's 5 s idle
    // timer ends it.
    const esbuild = await import('esbuild');
    const req = createRequire(import.meta.url);
    const externals: Record<string, string> = { koffi: req.resolve('koffi'), esbuild: req.resolve('esbuild') };
    const client = fileURLToPath(new URL('./mount-async.ts', import.meta.url));
    const out = await esbuild.build({
      stdin: {
        contents: `import { umount2Async } from ${JSON.stringify(client)};
          const r = await umount2Async(process.argv[2]).then(() => 'ok', (e) => e.syscall + ' ' + e.code);
          console.log(r);`,
        resolveDir: import.meta.dirname,
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      write: false,
      logLevel: 'silent',
      // The client finds the worker's sources from its own location, as under vitest.
      define: { 'import.meta.url': JSON.stringify(pathToFileURL(client).href) },
      plugins: [
        {
          name: 'externals-by-path',
          setup(b) {
            b.onResolve({ filter: /^(koffi|esbuild)$/ }, (a) => ({ path: pathToFileURL(externals[a.path]!).href, external: true }));
          },
        },
      ],
    });
    const script = join(top, 'child.mjs');
    writeFileSync(script, out.outputFiles[0]!.text);
    const child = spawn(process.execPath, [script, join(top, 'no-such-dir')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let answeredAt = 0;
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      answeredAt ||= Date.now();
    });
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    // ENOENT as root; EPERM (no CAP_SYS_ADMIN) before the path is looked at otherwise.
    expect(stdout.trim()).toMatch(/^umount2 (ENOENT|EPERM)$/);
    // Process teardown takes milliseconds; a ref'd worker would hold it until the 5 s idle timeout.
    expect(Date.now() - answeredAt).toBeLessThan(2_500);
  });
});
