// Crafted image layers through a real registry and PullImage (the unit tests in
// pkg/image/unpack.test.ts cover extractTar itself): path traversal, absolute symlinks,
// symlink-then-write (same and across layers), hardlinks to host files, device nodes, setuid
// files, duplicate entries, tar bombs by size and by entry count, a zstd frame declaring a
// 1.875 GiB window. The host is never touched, the
// bombs fail fast with nothing left behind. Then the disk fills during unpack: the daemon's root is
// a small loop-mounted ext4; the pull fails with RESOURCE_EXHAUSTED, no half snapshot remains,
// and a small image still pulls afterwards.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, lstatSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownDaemon, VM_HANDLERS_TOML, type OwnDaemon } from '../lib/own-daemon.js';
import { criClient, grpcCode, type CriClient } from '../lib/cri-grpc.js';
import { startRegistry, type TestRegistry } from '../lib/registry.js';
import { buildImage, pushImage, sha256, type Blob, type LayerEntry } from '../lib/registry-push.js';

const isRoot = process.getuid?.() === 0;
const tag = randomBytes(3).toString('hex');
/** Host paths the layers aim at; none may appear or change. */
const HOST_DIR = `/tmp/bhevil-${tag}`;
const HOST_DIR2 = `/tmp/bhevil2-${tag}`;
const ENTRY_CAP = 5000;
const SIZE_CAP = 32 << 20;

describe.skipIf(!isRoot)('hostile images through PullImage', () => {
  let reg: TestRegistry;
  let d: OwnDaemon;
  let cri: CriClient;
  let loopDir: string;
  const passwdBefore = statSync('/etc/passwd');

  beforeAll(async () => {
    reg = await startRegistry();
    // The root on a 64 MB ext4 (loop device, freed by umount): room for small images only.
    loopDir = `/tmp/bulkhead-hostile-${tag}`;
    mkdirSync(join(loopDir, 'mnt'), { recursive: true });
    execFileSync('truncate', ['-s', '64M', join(loopDir, 'fs.img')]);
    execFileSync('mkfs.ext4', ['-q', '-F', join(loopDir, 'fs.img')]);
    execFileSync('mount', ['-o', 'loop', join(loopDir, 'fs.img'), join(loopDir, 'mnt')]);
    d = ownDaemon('hostile', { extraToml: VM_HANDLERS_TOML, registryToml: `max_layer_entries = ${ENTRY_CAP}\nmax_layer_unpack_bytes = ${SIZE_CAP}` });
    d.root = join(loopDir, 'mnt', 'root'); // config.toml is written by start()
    d.onCleanup = () => {
      execFileSync('umount', [join(loopDir, 'mnt')]);
      rmSync(loopDir, { recursive: true, force: true });
    };
    mkdirSync(HOST_DIR);
    await d.start();
    cri = criClient(d.sock);
  });
  afterAll(async () => {
    cri?.close();
    await d?.cleanup();
    await reg?.stop();
    rmSync(HOST_DIR, { recursive: true, force: true });
    rmSync(HOST_DIR2, { recursive: true, force: true });
  });

  async function push(name: string, layers: LayerEntry[][]): Promise<string> {
    const img = await buildImage({ layers: layers.map((entries) => ({ entries })) });
    await pushImage(reg.url, `hostile/${name}`, 'v1', img);
    return `${reg.host}/hostile/${name}:v1`;
  }
  const pull = (ref: string) => cri.call<{ image_ref: string }>('PullImage', { image: { image: ref } }, 120_000);
  const snapshotDirs = () => readdirSync(join(d.root, 'snapshots')).filter((n) => /^\d+$/.test(n));
  const snapshotFs = () => snapshotDirs().map((n) => join(d.root, 'snapshots', n, 'fs'));
  function findInSnapshots(rel: string): string[] {
    return snapshotFs()
      .map((fs) => join(fs, rel))
      .filter((p) => {
        try {
          lstatSync(p);
          return true;
        } catch {
          return false;
        }
      });
  }
  function hostUntouched(): void {
    expect(readdirSync(HOST_DIR)).toEqual([]);
    expect(existsSync(HOST_DIR2)).toBe(false);
    const now = statSync('/etc/passwd');
    expect([now.nlink, now.size, now.mtimeMs]).toEqual([passwdBefore.nlink, passwdBefore.size, passwdBefore.mtimeMs]);
    expect(existsSync(`/tmp/bhevil-trav-${tag}`)).toBe(false);
  }

  it('keeps traversal, absolute symlinks, symlink-then-write, devices and setuid files inside the snapshot', async () => {
    const ref = await push('escape', [
      [
        { name: `../../../../../../tmp/bhevil-trav-${tag}`, body: 'trav' },
        { name: 'abs', type: 'symlink', linkname: HOST_DIR },
        { name: 'abs/pwned', body: 'through the symlink' },
        { name: 'rel', type: 'symlink', linkname: '../../../../../../../../tmp' },
        { name: `rel/bhevil2-${tag}/x`, body: 'through a climbing symlink' },
        { name: 'dev/mem', type: 'character-device', devmajor: 1, devminor: 1, mode: 0o600 },
        { name: 'suid', body: '#!/bin/sh\n', mode: 0o4755 },
        { name: 'dup', body: 'first' },
        { name: 'dup', body: 'second' },
      ],
      [
        // across layers: the lower layer's symlink must not carry this layer's writes out
        { name: 'abs/pwned2', body: 'across layers' },
        { name: 'etc', type: 'symlink', linkname: '/etc' },
      ],
      [{ name: 'etc/passwd', body: 'root::0:0::/:/bin/sh\n' }],
    ]);
    await pull(ref);
    hostUntouched();
    expect(findInSnapshots(`tmp/bhevil-trav-${tag}`).map((p) => readFileSync(p, 'utf8'))).toEqual(['trav']);
    expect(findInSnapshots('dup').map((p) => readFileSync(p, 'utf8'))).toEqual(['second']);
    const suid = findInSnapshots('suid');
    expect(suid.length).toBe(1);
    expect(statSync(suid[0]!).mode & 0o4000).toBe(0o4000);
    for (const p of findInSnapshots('dev/mem')) expect(p.startsWith(join(d.root, 'snapshots'))).toBe(true);
    await cri.call('RemoveImage', { image: { image: ref } });
  });

  it('refuses a hardlink to a host file', async () => {
    const ref = await push('hardlink', [[{ name: 'passwd', type: 'link', linkname: '/etc/passwd' }, { name: 'passwd2', type: 'link', linkname: '../../../../../../etc/passwd' }]]);
    const before = snapshotDirs().length;
    const err = await pull(ref).catch((e: unknown) => e);
    if (grpcCode(err) === undefined) {
      // accepted only if the links resolved inside the image (there is no such file: must not happen)
      throw new Error('a hardlink to a file outside the image was accepted');
    }
    expect(snapshotDirs().length).toBe(before);
    hostUntouched();
  });

  it('stops tar bombs by entry count and by size (configured caps) quickly, leaving nothing', async () => {
    const many: LayerEntry[] = Array.from({ length: ENTRY_CAP + 3000 }, (_, i) => ({ name: `f/${i}`, body: '' }));
    const size: LayerEntry[] = [{ name: 'zeros', body: Buffer.alloc(SIZE_CAP + (8 << 20)) }]; // zeros: tiny gzipped
    for (const [name, layer] of [['entries', many], ['size', size]] as const) {
      const ref = await push(`bomb-${name}`, [layer]);
      await expectCleanFailure(ref, `${name} bomb`);
    }
    hostUntouched();
  });

  it('refuses a zstd layer whose frame declares a 1.875 GiB window at once, without decoding it', async () => {
    // Frame header (window 2^30 + 7/8 * 2^30, under fzstd's own 2046 MB ceiling) + 1000 RLE blocks
    // of 128 KiB: 4 KB on the wire. Decoded anyway, each block slides the whole window (~0.2 s of
    // memmove each: minutes of a frozen daemon and ~2 GiB of RSS before the diffID check fails).
    const parts = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, (20 << 3) | 7])];
    for (let i = 0; i < 1000; i++) {
      const v = ((128 * 1024) << 3) | (1 << 1) | (i === 999 ? 1 : 0);
      parts.push(Buffer.from([v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, 0x61]));
    }
    const data = Buffer.concat(parts);
    const layer: Blob = { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: sha256(data), size: data.length, data };
    const img = await buildImage({ layers: [{ entries: [{ name: 'x', body: 'y' }], compression: 'zstd' }] });
    const manifest = JSON.parse(img.manifest.data.toString()) as { layers: unknown[] };
    manifest.layers = [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }];
    const mdata = Buffer.from(JSON.stringify(manifest));
    await pushImage(reg.url, 'hostile/zstd-window', 'v1', { ...img, layers: [layer], manifest: { ...img.manifest, data: mdata, digest: sha256(mdata), size: mdata.length } });
    const t0 = Date.now();
    const code = await expectCleanFailure(`${reg.host}/hostile/zstd-window:v1`, 'zstd window bomb');
    expect(code).toBe(9); // FAILED_PRECONDITION: refusing layer content
    expect(Date.now() - t0, 'refused from the frame header, not after decoding').toBeLessThan(10_000);
    hostUntouched();
  });

  it('fails cleanly when the disk fills during unpack, and pulls again once there is room', async () => {
    // two layers under the size cap, together larger than the free space
    const ref = await push('fill', [[{ name: 'a', body: randomBytes(28 << 20) }], [{ name: 'b', body: randomBytes(28 << 20) }]]);
    const code = await expectCleanFailure(ref, 'disk full');
    expect(code).toBe(8); // RESOURCE_EXHAUSTED
    const small = await push('small', [[{ name: 'hello', body: 'world' }]]);
    expect((await pull(small)).image_ref).toMatch(/^sha256:/);
    hostUntouched();
  });

  async function expectCleanFailure(ref: string, what: string): Promise<number | undefined> {
    const before = snapshotDirs().length;
    const t0 = Date.now();
    const err = await pull(ref).catch((e: unknown) => e);
    const secs = (Date.now() - t0) / 1000;
    expect(grpcCode(err), `${what} must fail`).toBeGreaterThan(0);
    expect(secs, `${what}: time`).toBeLessThan(60);
    expect(snapshotDirs().length, `${what}: no snapshot left`).toBe(before);
    const ingest = join(d.root, 'content', 'ingest');
    expect(existsSync(ingest) ? readdirSync(ingest) : []).toEqual([]);
    console.log(`${what}: ${(err as Error).message.slice(0, 160)} (${secs.toFixed(1)}s)`);
    return grpcCode(err);
  }
});
