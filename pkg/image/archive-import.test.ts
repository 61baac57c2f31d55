// ImageStore.importArchive: docker-save and OCI-layout tarballs made here, imported with a
// pull's checks; tampered or hostile archives store nothing and write nothing outside the store.
import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import pino from 'pino';
import { status } from '@grpc/grpc-js';
import { ImageStore } from './image-store.js';
import { BulkheadError } from '../errors/errors.js';
import { toStatus } from '../grpc/errors.js';
import { makeTar, type TarEntry as Entry } from '../../test/fakes/tar.js';


const hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const top = mkdtempSync(join(tmpdir(), 'bulkhead-import-'));
afterAll(() => rmSync(top, { recursive: true, force: true }));
let n = 0;

async function openStore(): Promise<{ store: ImageStore; root: string }> {
  const root = join(top, `store-${n++}`);
  const store = await ImageStore.open({ root, registryConfigDir: join(top, 'no-certs.d'), log: pino({ level: 'silent' }), maxConcurrentDownloads: 2, progressTimeoutMs: 10_000 });
  return { store, root };
}

function config(diffIds: string[], cmd = ['/bin/hello']): Buffer {
  return Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: cmd }, rootfs: { type: 'layers', diff_ids: diffIds } }));
}

/** What docker 20.10's `docker save` writes: <id>/layer.tar, <config-hex>.json, manifest.json last. */
async function dockerArchive(opts: { layers: Buffer[]; diffIds?: string[]; tags: string[]; extra?: Entry[]; dupLayerAsSymlink?: boolean }): Promise<{ archive: Buffer; id: string }> {
  const diffIds = opts.diffIds ?? opts.layers.map((l) => `sha256:${hex(l)}`);
  const cfg = config(diffIds);
  const cfgHex = hex(cfg);
  const entries: Entry[] = [];
  const layerNames: string[] = [];
  opts.layers.forEach((l, i) => {
    const dir = `${hex(`layer${i}`)}`;
    entries.push({ name: `${dir}/`, type: 'directory', mode: 0o755 }, { name: `${dir}/VERSION`, body: '1.0' });
    if (opts.dupLayerAsSymlink && i > 0) entries.push({ name: `${dir}/layer.tar`, type: 'symlink', linkname: `../${hex('layer0')}/layer.tar` });
    else entries.push({ name: `${dir}/layer.tar`, body: l });
    layerNames.push(`${dir}/layer.tar`);
  });
  entries.push({ name: `${cfgHex}.json`, body: cfg }, ...(opts.extra ?? []));
  entries.push({ name: 'manifest.json', body: JSON.stringify([{ Config: `${cfgHex}.json`, RepoTags: opts.tags, Layers: layerNames }]) });
  return { archive: await makeTar(entries), id: `sha256:${cfgHex}` };
}

const layerA = () => makeTar([{ name: 'bin/', type: 'directory', mode: 0o755 }, { name: 'bin/hello', body: 'hello from A\n', mode: 0o755 }]);
const layerB = () => makeTar([{ name: 'etc/motd', body: 'from B\n' }]);

async function expectCode(p: Promise<unknown>, code: status, re: RegExp): Promise<void> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(BulkheadError);
  expect(toStatus(e).code).toBe(code);
  expect((e as Error).message).toMatch(re);
}

function leftovers(root: string): { snapshots: string[]; spool: string[] } {
  const snaps = readdirSync(join(root, 'snapshots')).filter((d) => /^\d+$/.test(d));
  const spoolDir = join(root, 'import-spool');
  return { snapshots: snaps, spool: existsSync(spoolDir) ? readdirSync(spoolDir) : [] };
}

describe('importArchive', () => {
  it('imports a docker save archive: tags, layers in order, a deduplicated layer link', async () => {
    const { store, root } = await openStore();
    const a = await layerA();
    const b = await layerB();
    const { archive, id } = await dockerArchive({ layers: [a, b], tags: ['foo:1', 'example.com/x/bar:2'] });
    const [rec, ...more] = await store.importArchive(Readable.from([archive]));
    expect(more).toHaveLength(0);
    expect(rec!.id).toBe(id);
    expect(rec!.repoTags).toEqual(['docker.io/library/foo:1', 'example.com/x/bar:2']);
    expect(rec!.chainIds).toHaveLength(2);
    expect(store.resolve('foo:1')?.id).toBe(id);
    const lowers = await store.acquireLayers(id, 'c1');
    expect(readFileSync(join(lowers[1]!, 'bin/hello'), 'utf8')).toBe('hello from A\n');
    expect(readFileSync(join(lowers[0]!, 'etc/motd'), 'utf8')).toBe('from B\n');
    await store.releaseLayers('c1');
    expect(leftovers(root).spool).toEqual([]);

    // docker dedupes identical layers as symlinks between layer dirs.
    const dup = await dockerArchive({ layers: [a, a], tags: ['dup:1'], dupLayerAsSymlink: true });
    const [d] = await store.importArchive(Readable.from([dup.archive]));
    expect(d!.chainIds).toHaveLength(2);
    await store.close();
  });

  it('imports a gzip-compressed OCI layout with gzip layers, named by annotation, with a repo digest', async () => {
    const { store } = await openStore();
    const layer = await layerA();
    const gz = gzipSync(layer);
    const cfg = config([`sha256:${hex(layer)}`]);
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${hex(cfg)}`, size: cfg.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${hex(gz)}`, size: gz.length }],
    }));
    const index = {
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${hex(manifest)}`, size: manifest.length, annotations: { 'io.containerd.image.name': 'registry.k8s.io/pause:3.10', 'org.opencontainers.image.ref.name': '3.10' } }],
    };
    const archive = await makeTar([
      { name: 'oci-layout', body: '{"imageLayoutVersion":"1.0.0"}' },
      { name: 'blobs/', type: 'directory', mode: 0o755 },
      { name: `blobs/sha256/${hex(gz)}`, body: gz },
      { name: `blobs/sha256/${hex(cfg)}`, body: cfg },
      { name: `blobs/sha256/${hex(manifest)}`, body: manifest },
      { name: 'index.json', body: JSON.stringify(index) },
    ]);
    const [rec] = await store.importArchive(Readable.from([gzipSync(archive)]));
    expect(rec!.repoTags).toEqual(['registry.k8s.io/pause:3.10']);
    expect(rec!.repoDigests).toEqual([`registry.k8s.io/pause@sha256:${hex(manifest)}`]);
    await store.close();
  });

  it('follows tar hardlinks, including GNU tar\'s hardlink-to-itself for a file named twice', async () => {
    const { store } = await openStore();
    const a = await layerA();
    const cfg = config([`sha256:${hex(a)}`]);
    const archive = await makeTar([
      { name: 'l0/layer.tar', body: a },
      { name: 'l1/layer.tar', type: 'link', linkname: 'l0/layer.tar' },
      { name: `${hex(cfg)}.json`, body: cfg },
      { name: `${hex(cfg)}.json`, type: 'link', linkname: `${hex(cfg)}.json` },
      { name: 'manifest.json', body: JSON.stringify([{ Config: `${hex(cfg)}.json`, RepoTags: ['hl:1'], Layers: ['l1/layer.tar'] }]) },
    ]);
    const [rec] = await store.importArchive(Readable.from([archive]));
    expect(rec!.id).toBe(`sha256:${hex(cfg)}`);
    await store.close();
  });

  it('refuses a layer that does not match its diff_id and keeps nothing of it', async () => {
    const { store, root } = await openStore();
    const a = await layerA();
    const b = await layerB();
    const { archive } = await dockerArchive({ layers: [a, b], diffIds: [`sha256:${hex(a)}`, `sha256:${hex('something else')}`], tags: ['bad:1'] });
    await expectCode(store.importArchive(Readable.from([archive])), status.FAILED_PRECONDITION, /content verification failed.*diffID/);
    expect(store.list()).toEqual([]);
    expect(leftovers(root)).toEqual({ snapshots: [], spool: [] });
    await store.close();
  });

  it('refuses a config whose name is not its digest, and an OCI blob whose name is not its digest', async () => {
    const { store } = await openStore();
    const a = await layerA();
    const cfg = config([`sha256:${hex(a)}`]);
    const wrongName = await makeTar([
      { name: 'l/layer.tar', body: a },
      { name: `${hex('not the config')}.json`, body: cfg },
      { name: 'manifest.json', body: JSON.stringify([{ Config: `${hex('not the config')}.json`, RepoTags: ['x:1'], Layers: ['l/layer.tar'] }]) },
    ]);
    await expectCode(store.importArchive(Readable.from([wrongName])), status.FAILED_PRECONDITION, /config .* has digest/);
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${hex(cfg)}`, size: cfg.length }, layers: [] }));
    const forged = await makeTar([
      { name: `blobs/sha256/${hex(cfg)}`, body: Buffer.from('{"forged":true}') },
      { name: `blobs/sha256/${hex(manifest)}`, body: manifest },
      { name: 'index.json', body: JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${hex(manifest)}`, size: manifest.length }] }) },
    ]);
    await expectCode(store.importArchive(Readable.from([forged])), status.FAILED_PRECONDITION, /has digest/);
    expect(store.list()).toEqual([]);
    await store.close();
  });

  it('never writes outside the store: hostile archive names and layer entries stay contained', async () => {
    const { store, root } = await openStore();
    const outside = join(top, `escape-${n}`);
    const layer = await makeTar([{ name: `../../../../../../..${outside}-layer`, body: 'x' }]);
    const { archive, id } = await dockerArchive({ layers: [layer], tags: ['evil:1'], extra: [{ name: `../../../../../../..${outside}-archive`, body: 'x' }, { name: `/${outside.slice(1)}-abs`, body: 'x' }] });
    await store.importArchive(Readable.from([archive]));
    for (const s of ['-layer', '-archive', '-abs']) expect(existsSync(`${outside}${s}`)).toBe(false);
    const [lower] = await store.acquireLayers(id, 'c');
    expect(readFileSync(join(lower!, `${outside}-layer`), 'utf8')).toBe('x');
    expect(leftovers(root).spool).toEqual([]);
    await store.close();
  });

  it('rejects what is not an image archive', async () => {
    const { store } = await openStore();
    await expectCode(store.importArchive(Readable.from([await makeTar([{ name: 'hello.txt', body: 'hi' }])])), status.INVALID_ARGUMENT, /not an image archive/);
    await expectCode(store.importArchive(Readable.from([Buffer.from('definitely not a tar file, just some text '.repeat(20))])), status.INVALID_ARGUMENT, /tar|image archive/);
    await store.close();
  });

  it('tag moves a tag between images, by reference or id', async () => {
    const { store } = await openStore();
    const one = await dockerArchive({ layers: [await layerA()], tags: ['app:1'] });
    const two = await dockerArchive({ layers: [await layerB()], tags: ['app:2'] });
    await store.importArchive(Readable.from([one.archive]));
    await store.importArchive(Readable.from([two.archive]));
    await store.tag(two.id, 'app:1');
    expect(store.resolve('app:1')?.id).toBe(two.id);
    expect(store.resolve(one.id)?.repoTags).toEqual([]);
    await store.tag('app:2', 'kind.local/app:latest');
    expect(store.resolve('kind.local/app')?.id).toBe(two.id);
    await expectCode(store.tag('nope:1', 'x:1'), status.NOT_FOUND, /not found/);
    await store.close();
  });
});
