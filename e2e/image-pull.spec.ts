// Integration: the real daemon pulling from a real registry (Debian's docker-registry on a free
// loopback port), driven over CRI gRPC and with crictl. Images are generated and pushed by the test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, lstatSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadCri } from '../pkg/api/cri.js';
import type * as cri from '../pkg/api/cri-types.js';
import { startRegistry, freePort, type TestRegistry } from './lib/registry.js';
import { buildImage, pushImage, pushIndex, type BuiltImage } from './lib/registry-push.js';
import { startAuthProxy, type AuthProxy } from './lib/auth-proxy.js';

const REPO_ROOT = resolve(import.meta.dirname, '..');
const CRICTL = process.env.CRICTL ?? '/var/cache/bulkhead-tools/v1.36.0/crictl';

let reg: TestRegistry;
let tokenProxy: AuthProxy;
let basicProxy: AuthProxy;
let work: string;
let root: string;
let sock: string;
let daemon: ChildProcess | undefined;
let daemonLog = '';
let client: grpc.Client & Record<string, unknown>;

let base: BuiltImage;
let app: BuiltImage;
let amd64: BuiltImage;
let arm64: BuiltImage;
let tampered: BuiltImage;
let appDigest: string;

type Unary = (req: unknown, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void;
function call<T>(method: string, req: unknown, timeoutMs = 60_000): Promise<T> {
  return new Promise((resolve, reject) => {
    (client[method] as Unary).call(client, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res as T)));
  });
}
const pull = (image: string, auth?: cri.AuthConfig) => call<cri.PullImageResponse__Output>('PullImage', { image: { image }, auth: auth ?? null });
const status = (image: string, verbose = false) => call<cri.ImageStatusResponse__Output>('ImageStatus', { image: { image }, verbose });
const list = (image?: string) => call<cri.ListImagesResponse__Output>('ListImages', { filter: image ? { image: { image } } : null });
const remove = (image: string) => call<cri.RemoveImageResponse__Output>('RemoveImage', { image: { image } });

function crictl(...args: string[]): string {
  return execFileSync(CRICTL, ['--runtime-endpoint', `unix://${sock}`, '--image-endpoint', `unix://${sock}`, '--timeout', '60s', ...args], { encoding: 'utf8' });
}

function snapshotDirs(): string[] {
  const d = join(root, 'snapshots');
  return existsSync(d) ? readdirSync(d).filter((n) => /^\d+$/.test(n)) : [];
}
function chainOf(n: string): string {
  return (JSON.parse(readFileSync(join(root, 'snapshots', n, 'meta.json'), 'utf8')) as { chainId: string }).chainId;
}
function blobs(): string[] {
  const d = join(root, 'content/blobs/sha256');
  return existsSync(d) ? readdirSync(d).sort() : [];
}

async function startDaemon(): Promise<void> {
  daemonLog = '';
  daemon = spawn(process.execPath, [join(REPO_ROOT, 'dist/cmd/bulkheadd/main.js'), '--config', join(work, 'config.toml'), '--root', root, '--state', join(work, 'state'), '--address', sock, '--log-level', 'debug'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  daemon.stdout?.on('data', (d: Buffer) => (daemonLog = (daemonLog + d.toString()).slice(-20000)));
  daemon.stderr?.on('data', (d: Buffer) => (daemonLog = (daemonLog + d.toString()).slice(-20000)));
  const deadline = Date.now() + 20_000;
  while (!existsSync(sock)) {
    if (daemon.exitCode !== null || Date.now() > deadline) throw new Error(`bulkheadd did not start:\n${daemonLog}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const { runtime } = loadCri();
  client = new runtime.v1.ImageService(`unix://${sock}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & Record<string, unknown>;
}

async function stopDaemon(): Promise<void> {
  client?.close();
  if (daemon && daemon.exitCode === null) {
    const exited = new Promise((r) => daemon!.once('exit', r));
    daemon.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (daemon.exitCode === null) daemon.kill('SIGKILL');
  }
  daemon = undefined;
}

beforeAll(async () => {
  // The daemon runs from dist/: build unless the caller already did (BULKHEAD_SKIP_BUILD=1).
  if (process.env.BULKHEAD_SKIP_BUILD !== '1') execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: REPO_ROOT, stdio: 'inherit' });
  work = mkdtempSync(join(tmpdir(), 'bulkhead-e2e-image-'));
  root = join(work, 'root');
  sock = join(work, 'b.sock');
  reg = await startRegistry();
  tokenProxy = await startAuthProxy(reg.url, 'token', 'alice', 's3cret');
  basicProxy = await startAuthProxy(reg.url, 'basic', 'bob', 'hunter2');

  const shared = { entries: [
    { name: 'bin/', type: 'directory' as const },
    { name: 'bin/busybox', body: 'busybox binary', mode: 0o755 },
    { name: 'bin/sh', type: 'link' as const, linkname: 'bin/busybox' },
    { name: 'etc/motd', body: 'hello' },
    { name: 'var/lib/data/old', body: 'old' },
    { name: 'lib', type: 'symlink' as const, linkname: 'usr/lib' },
  ] };
  base = await buildImage({ layers: [shared, { entries: [{ name: 'base-marker', body: 'base' }], compression: 'zstd' }], user: '1002' });
  app = await buildImage({
    layers: [shared, { entries: [{ name: 'etc/.wh.motd' }, { name: 'var/lib/data/', type: 'directory' }, { name: 'var/lib/data/.wh..wh..opq' }, { name: 'var/lib/data/new', body: 'new' }, { name: 'bin/ls', type: 'link', linkname: 'bin/busybox' }] }, { entries: [{ name: 'app', body: 'x'.repeat(100_000) }], compression: 'none' }],
    user: 'www-data:1004',
    docker: true,
  });
  amd64 = await buildImage({ layers: [{ entries: [{ name: 'arch', body: 'amd64' }] }] });
  arm64 = await buildImage({ layers: [{ entries: [{ name: 'arch', body: 'arm64' }] }], architecture: 'arm64' });
  tampered = await buildImage({ layers: [{ entries: [{ name: 'good', body: 'y'.repeat(50_000) }] }] });
  await pushImage(reg.url, 'library/base', '1', base);
  await pushImage(reg.url, 'library/app', '1', app);
  await pushImage(reg.url, 'library/tampered', '1', tampered);
  await pushIndex(reg.url, 'library/multi', '1', [{ image: arm64, architecture: 'arm64' }, { image: amd64, architecture: 'amd64' }]);
  appDigest = app.manifest.digest;
  // Serve wrong bytes (same length) for the tampered image's layer.
  const p = reg.blobDataPath(tampered.layers[0]!.digest);
  const data = readFileSync(p);
  data[data.length - 20] ^= 0xff;
  writeFileSync(p, data);

  const certs = join(work, 'certs.d');
  const hosts = (dir: string, toml: string) => {
    mkdirSync(join(certs, dir), { recursive: true });
    writeFileSync(join(certs, dir, 'hosts.toml'), toml);
  };
  hosts('docker.io', `server = "http://${reg.host}"\n`);
  hosts('token.test', `server = "http://${tokenProxy.host}"\n`);
  hosts('basic.test', `server = "http://${basicProxy.host}"\n`);
  const dead = await freePort();
  hosts('mirror.test', `server = "http://${reg.host}"\n[host."http://127.0.0.1:${dead}"]\n  capabilities = ["pull", "resolve"]\n`);
  writeFileSync(join(work, 'config.toml'), `[registry]\nconfig_path = "${certs}"\nprogress_timeout_seconds = 10\nmax_concurrent_downloads = 3\n`);
  await startDaemon();
});

afterAll(async () => {
  await stopDaemon();
  await tokenProxy?.close();
  await basicProxy?.close();
  await reg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('image pulls against a real registry', () => {
  it('pulls by tag: record, config user, overlay-ready snapshots', async () => {
    const r = await pull('base:1');
    expect(r.image_ref).toBe(base.config.digest);
    const s = await status('docker.io/library/base:1', true);
    expect(s.image?.id).toBe(base.config.digest);
    expect(s.image?.repo_tags).toEqual(['docker.io/library/base:1']);
    expect(s.image?.repo_digests).toEqual([`docker.io/library/base@${base.manifest.digest}`]);
    expect(s.image?.uid?.value).toBe('1002');
    expect(Number(s.image?.size)).toBe(base.manifest.size + base.config.size + base.layers.reduce((a, l) => a + l.size, 0));
    expect(JSON.parse(s.info.info!).imageSpec.config.User).toBe('1002');
    expect(snapshotDirs()).toHaveLength(2);
    const byChain = new Map(snapshotDirs().map((n) => [chainOf(n), n]));
    const bottom = join(root, 'snapshots', byChain.get(base.diffIds[0]!)!, 'fs');
    expect(readFileSync(join(bottom, 'etc/motd'), 'utf8')).toBe('hello');
    expect(statSync(join(bottom, 'bin/sh')).ino).toBe(statSync(join(bottom, 'bin/busybox')).ino);
    expect((await list()).images.map((i) => i.id)).toContain(base.config.digest);
  });

  it('pulls by digest (Docker schema2, whiteouts, opaque dirs, uncompressed layer, hardlink to a lower layer)', async () => {
    const r = await pull(`docker.io/library/app@${appDigest}`);
    expect(r.image_ref).toBe(app.config.digest);
    const s = await status(`app@${appDigest}`);
    expect(s.image?.repo_tags).toEqual([]);
    expect(s.image?.username).toBe('www-data');
    expect(s.image?.uid).toBeNull();
    // the shared bottom layer was not unpacked twice
    expect(snapshotDirs()).toHaveLength(4);
    const byChain = new Map(snapshotDirs().map((n) => [chainOf(n), n]));
    const second = [...byChain.entries()].find(([, n]) => existsSync(join(root, 'snapshots', n, 'fs/var/lib/data/new')))![1];
    const fs = join(root, 'snapshots', second, 'fs');
    expect(lstatSync(join(fs, 'etc/motd')).isCharacterDevice()).toBe(true);
    expect(readFileSync(join(fs, 'bin/ls'), 'utf8')).toBe('busybox binary');
  });

  it('selects linux/amd64 from an OCI index', async () => {
    const r = await pull('docker.io/library/multi:1');
    expect(r.image_ref).toBe(amd64.config.digest);
    expect((await list('multi:1')).images.map((i) => i.id)).toEqual([amd64.config.digest]);
  });

  it('shares one pull between concurrent callers', async () => {
    await remove('base:1');
    const rs = await Promise.all([pull('base:1'), pull('docker.io/library/base:1'), pull('base:1')]);
    expect(new Set(rs.map((r) => r.image_ref))).toEqual(new Set([base.config.digest]));
    expect(new Set(snapshotDirs().map(chainOf)).size).toBe(snapshotDirs().length);
  });

  it('fails a pull of tampered content and leaves nothing behind', async () => {
    const beforeSnaps = snapshotDirs().sort();
    const beforeBlobs = blobs();
    await expect(pull('tampered:1')).rejects.toMatchObject({ code: grpc.status.FAILED_PRECONDITION });
    expect(snapshotDirs().sort()).toEqual(beforeSnaps);
    expect(blobs()).toEqual(beforeBlobs);
    expect((await status('tampered:1')).image).toBeNull();
    expect(readdirSync(join(root, 'content/ingest'))).toEqual([]);
  });

  it('reports a missing image and a missing tag clearly', async () => {
    expect((await status('nothere:1')).image).toBeNull();
    await expect(pull('nothere:1')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    await expect(pull('Bad Name')).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  });

  it('falls back from a dead mirror to the upstream server', async () => {
    const r = await pull('mirror.test/library/multi:1');
    expect(r.image_ref).toBe(amd64.config.digest);
    expect((await status('mirror.test/library/multi:1')).image?.repo_tags).toContain('mirror.test/library/multi:1');
  });

  it('does the bearer token flow and basic auth with the request credentials', async () => {
    await expect(pull('token.test/library/multi:1')).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    const r = await pull('token.test/library/multi:1', { username: 'alice', password: 's3cret' });
    expect(r.image_ref).toBe(amd64.config.digest);
    expect(tokenProxy.tokenRequests.some((t) => t.scope === 'repository:library/multi:pull' && t.service === 'test-registry')).toBe(true);
    await expect(pull('basic.test/library/multi:1', { username: 'bob', password: 'wrong' })).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    const b = await pull('basic.test/library/multi:1', { auth: Buffer.from('bob:hunter2').toString('base64') });
    expect(b.image_ref).toBe(amd64.config.digest);
  });

  it('removes an image with all its tags when removed by one tag', async () => {
    const tags = (await status(amd64.config.digest)).image?.repo_tags ?? [];
    expect(tags.sort()).toEqual(['basic.test/library/multi:1', 'docker.io/library/multi:1', 'mirror.test/library/multi:1', 'token.test/library/multi:1']);
    await remove('mirror.test/library/multi:1');
    for (const t of tags) expect((await status(t)).image).toBeNull();
    expect((await list()).images.some((i) => i.id === amd64.config.digest)).toBe(false);
  });

  it('keeps shared layers while another image uses them', async () => {
    const sharedChain = base.diffIds[0]!;
    await remove(base.config.digest.slice(7, 19)); // by short id
    expect((await status('base:1')).image).toBeNull();
    expect(snapshotDirs().map(chainOf)).toContain(sharedChain);
    await remove(`docker.io/library/app@${appDigest}`);
    expect(snapshotDirs().map(chainOf)).not.toContain(sharedChain);
    await remove('base:1'); // idempotent
  });

  it('moves a tag to the image it now points at; the old image stays untagged until removed', async () => {
    const one = await buildImage({ layers: [{ entries: [{ name: 'v', body: '1' }] }] });
    const two = await buildImage({ layers: [{ entries: [{ name: 'v', body: '2' }] }] });
    await pushImage(reg.url, 'library/moving', 'v', one);
    expect((await pull('moving:v')).image_ref).toBe(one.config.digest);
    await pushImage(reg.url, 'library/moving', 'v', two);
    expect((await pull('moving:v')).image_ref).toBe(two.config.digest);
    expect((await status('moving:v')).image?.id).toBe(two.config.digest);
    const old = (await status(one.config.digest)).image;
    expect(old?.repo_tags).toEqual([]);
    expect(old?.repo_digests).toEqual([`docker.io/library/moving@${one.manifest.digest}`]);
    await remove(one.config.digest);
    await remove('moving:v');
    expect((await list()).images.some((i) => i.id === one.config.digest || i.id === two.config.digest)).toBe(false);
  });

  it('keeps metadata and content across a daemon restart', async () => {
    await pull('base:1');
    const before = (await list()).images.map((i) => [i.id, i.repo_tags.join(','), i.repo_digests.join(',')]).sort();
    const snaps = snapshotDirs().sort();
    await stopDaemon();
    await startDaemon();
    expect((await list()).images.map((i) => [i.id, i.repo_tags.join(','), i.repo_digests.join(',')]).sort()).toEqual(before);
    expect(snapshotDirs().sort()).toEqual(snaps);
  });

  it('works with crictl pull / images / inspecti / imagefsinfo / rmi', () => {
    crictl('pull', 'docker.io/library/app@' + appDigest);
    const images = crictl('images', '--digests');
    expect(images).toContain('docker.io/library/base');
    const inspect = JSON.parse(crictl('inspecti', '-o', 'json', 'base:1')) as { status: { id: string; uid: { value: string } }; info: { imageSpec: unknown } };
    expect(inspect.status.id).toBe(base.config.digest);
    expect(inspect.status.uid.value).toBe('1002');
    const fsinfo = JSON.parse(crictl('imagefsinfo', '-o', 'json')) as { status: { imageFilesystems: Array<{ usedBytes: { value: string }; inodesUsed: { value: string }; fsId: { mountpoint: string } }> } };
    const fs = fsinfo.status.imageFilesystems[0]!;
    expect(Number(fs.usedBytes.value)).toBeGreaterThan(100_000);
    expect(Number(fs.inodesUsed.value)).toBeGreaterThan(5);
    expect(fs.fsId.mountpoint).toBe(join(root, 'snapshots'));
    crictl('rmi', 'base:1');
    expect(crictl('images', '-q')).not.toContain(base.config.digest);
  });
});
