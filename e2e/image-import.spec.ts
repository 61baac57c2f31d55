// `bulkhead images import` end to end against an own daemon: a `docker save`-style archive (made
// here from the host's static busybox, no registry) goes in through deploy/kind/bin/ctr exactly
// as kind invokes it, crictl sees the image, a container runs from it, `ctr images tag --force`
// retags it by id, and a tampered archive is refused without leaving anything behind.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownDaemon, REPO, type OwnDaemon } from './lib/own-daemon.js';
import { makeTar } from '../test/fakes/tar.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const CTR = join(REPO, 'deploy/kind/bin/ctr');


/** docker 20.10's `docker save` layout: <id>/layer.tar (uncompressed), <config>.json, manifest.json last. */
async function busyboxArchive(tag: string, diffIdOverride?: string): Promise<{ archive: Buffer; id: string }> {
  const layer = await makeTar([
    { name: 'bin/', type: 'directory', mode: 0o755 },
    { name: 'bin/busybox', body: readFileSync('/bin/busybox'), mode: 0o755 },
    { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
  ]);
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: [diffIdOverride ?? `sha256:${hex(layer)}`] } }),
  );
  const layerDir = hex('busybox-layer');
  const archive = await makeTar([
    { name: `${layerDir}/`, type: 'directory', mode: 0o755 },
    { name: `${layerDir}/VERSION`, body: '1.0' },
    { name: `${layerDir}/layer.tar`, body: layer },
    { name: `${hex(config)}.json`, body: config },
    { name: 'manifest.json', body: JSON.stringify([{ Config: `${hex(config)}.json`, RepoTags: [tag], Layers: [`${layerDir}/layer.tar`] }]) },
    { name: 'repositories', body: '{}' },
  ]);
  return { archive, id: `sha256:${hex(config)}` };
}

describe.skipIf(!isRoot)('bulkhead images import through the kind ctr shim', () => {
  let d: OwnDaemon;
  let env: NodeJS.ProcessEnv;

  /** Runs the ctr shim with `input` on stdin, as kind's `docker exec -i node ctr ...` does. */
  const ctr = (args: string[], input?: Buffer): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve, reject) => {
      const p = spawn(CTR, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      p.on('error', reject);
      p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
      p.stdin.on('error', () => undefined);
      p.stdin.end(input);
    });

  beforeAll(async () => {
    d = ownDaemon('import');
    await d.start();
    const cli = join(d.dir, 'bulkhead');
    writeFileSync(cli, `#!/bin/sh\nexec node ${join(REPO, 'dist/cmd/bulkhead/main.js')} "$@"\n`);
    chmodSync(cli, 0o755);
    env = { ...process.env, BULKHEAD_CLI: cli, BULKHEAD_DEBUG_SOCKET: join(d.state, 'debug.sock') };
  });

  afterAll(async () => {
    await d?.cleanup();
  });

  it('imports from stdin with kind\'s exact flags; crictl sees it; a container runs from it', async () => {
    const { archive, id } = await busyboxArchive('kind.local/imported:1');
    const t0 = Date.now();
    const r = await ctr(['--namespace=k8s.io', 'images', 'import', '--all-platforms', '--digests', '--snapshotter=overlayfs', '-'], archive);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`imported kind.local/imported:1 ${id}`);
    console.log(`import of a ${archive.length}-byte archive: ${Date.now() - t0} ms`);

    const inspect = JSON.parse(await d.crictl('inspecti', 'kind.local/imported:1')) as { status: { id: string; repoTags: string[] } };
    expect(inspect.status.id).toBe(id);
    expect(inspect.status.repoTags).toEqual(['kind.local/imported:1']);

    const pod = join(d.dir, 'pod.json');
    writeFileSync(pod, JSON.stringify({ metadata: { name: 'imp', namespace: 'e2e', uid: 'imp-uid', attempt: 0 }, log_directory: d.logDir, linux: {} }));
    const podId = (await d.crictl('runp', pod)).trim();
    const ctrCfg = join(d.dir, 'c.json');
    writeFileSync(ctrCfg, JSON.stringify({ metadata: { name: 'c' }, image: { image: 'kind.local/imported:1' }, command: ['/bin/sh', '-c', 'echo hello-from-imported-image; sleep 300'], log_path: 'c.log', linux: {} }));
    const cid = (await d.crictl('create', podId, ctrCfg, pod)).trim();
    await d.crictl('start', cid);
    let logs = '';
    for (let i = 0; i < 50 && !logs.includes('hello-from-imported-image'); i++) {
      await new Promise((res) => setTimeout(res, 100));
      logs = await d.crictl('logs', cid).catch(() => '');
    }
    expect(logs).toContain('hello-from-imported-image');
    expect((await d.crictl('exec', cid, '/bin/busybox', 'echo', 'exec-ok')).trim()).toBe('exec-ok');
    await d.crictl('rmp', '-f', podId);
  });

  it('ctr images tag --force retags by image id (kind load\'s ReTagImage)', async () => {
    const { id } = await busyboxArchive('kind.local/imported:1');
    const r = await ctr(['--namespace=k8s.io', 'images', 'tag', '--force', id, 'docker.io/library/retagged:2']);
    expect(r.code).toBe(0);
    const inspect = JSON.parse(await d.crictl('inspecti', id)) as { status: { repoTags: string[] } };
    expect(inspect.status.repoTags.sort()).toEqual(['docker.io/library/retagged:2', 'kind.local/imported:1']);
  });

  it('refuses a tampered archive and keeps nothing; refuses commands kind never makes', async () => {
    const { archive } = await busyboxArchive('kind.local/tampered:1', `sha256:${hex('not this layer')}`);
    const r = await ctr(['--namespace=k8s.io', 'images', 'import', '-'], archive);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/content verification failed/);
    expect(await d.crictl('images', '-q', 'kind.local/tampered:1').catch(() => '')).toBe('');
    const bad = await ctr(['images', 'pull', 'docker.io/library/busybox:latest']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/unsupported images subcommand: pull/);
    const { stdout } = await run(join(REPO, 'deploy/kind/bin/containerd'), ['config', 'dump']);
    expect(stdout).toMatch(/\[plugins\."io\.containerd\.cri\.v1\.images"\]\s+snapshotter = "overlayfs"/);
  });
});
