// Socket and files: the CRI socket is root-only (0660 root:root, like containerd), the daemon's
// records and metadata are not world-readable, root/state dirs are not world-listable, the root
// and its snapshots are 0700 (image files, setuid ones included, are root's alone); the
// streaming server honours only valid, unexpired, single-use tokens for the right endpoint.
import { lstatSync, readdirSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownDaemon, VM_HANDLERS_TOML, type OwnDaemon } from '../lib/own-daemon.js';
import { criClient, type CriClient } from '../lib/cri-grpc.js';

const IMAGE = 'docker.io/library/busybox:latest';
const isRoot = process.getuid?.() === 0;

/** Files a container must be able to read as any user (bind-mounted or its own filesystem). */
const CONTAINER_VISIBLE = [/^root\/containers\/[0-9a-f]+\/(rootfs|upper|work)(\/|$)/, /^root\/pods\/[0-9a-f]+\/(hostname|hosts|resolv\.conf)$/, /^state\/pods\/[0-9a-f]+\/(infra|shm)(\/|$)/, /^state\/attach\//, /^state\/pods\/[0-9a-f]+\/ns\//];

function walk(dir: string, out: string[] = []): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e);
    const st = lstatSync(p);
    out.push(p);
    if (st.isDirectory() && !/\/(rootfs|fs|shm)$/.test(p)) walk(p, out);
  }
  return out;
}

function httpStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(!isRoot)('socket, files and streaming tokens', () => {
  let d: OwnDaemon;
  let cri: CriClient;
  let ctr: string;
  beforeAll(async () => {
    d = ownDaemon('files', { extraToml: `${VM_HANDLERS_TOML}\n[streaming]\ntoken_ttl_seconds = 1\n` });
    await d.start();
    await d.crictl('pull', IMAGE);
    cri = criClient(d.sock);
    const cfg = { metadata: { name: 'files', namespace: 'files', uid: 'files-uid', attempt: 0 }, log_directory: join(d.logDir, 'files'), linux: {} };
    const { pod_sandbox_id: pod } = await cri.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: cfg });
    ({ container_id: ctr } = await cri.call<{ container_id: string }>('CreateContainer', {
      pod_sandbox_id: pod,
      config: { metadata: { name: 'c', attempt: 0 }, image: { image: IMAGE }, command: ['sleep', '3600'], log_path: 'c.log' },
      sandbox_config: cfg,
    }));
    await cri.call('StartContainer', { container_id: ctr });
  });
  afterAll(async () => {
    cri?.close();
    await d?.cleanup();
  });

  it('serves CRI on a root-only socket', () => {
    const st = statSync(d.sock);
    expect(st.isSocket()).toBe(true);
    expect([st.uid, st.gid]).toEqual([0, 0]);
    expect(st.mode & 0o007).toBe(0);
  });

  it('keeps records and metadata away from other users', () => {
    for (const top of [d.root, d.state]) expect(statSync(top).mode & 0o004, `${top} must not be world-listable`).toBe(0);
    // image files (setuid binaries, devices, lower layers of running containers): root's alone
    for (const dir of [d.root, join(d.root, 'snapshots')]) expect((statSync(dir).mode & 0o777).toString(8), `${dir} must be 0700`).toBe('700');
    const exposed: string[] = [];
    for (const [label, base] of [['root', d.root], ['state', d.state]] as const) {
      for (const p of walk(base)) {
        const rel = `${label}/${relative(base, p)}`;
        const st = lstatSync(p);
        if (!st.isFile() || CONTAINER_VISIBLE.some((re) => re.test(rel))) continue;
        // readable by others = o+r on the file and o+x on every directory above it
        let reachable = true;
        for (let dir = join(p, '..'); reachable && dir.startsWith(base); dir = join(dir, '..')) reachable = (statSync(dir).mode & 0o001) !== 0;
        if (reachable && st.mode & 0o004) exposed.push(`${rel} ${(st.mode & 0o777).toString(8)}`);
      }
    }
    expect(exposed).toEqual([]);
  });

  it('streaming URLs: single use, short-lived, only for their own endpoint', async () => {
    const exec = () => cri.call<{ url: string }>('Exec', { container_id: ctr, cmd: ['true'], stdout: true }).then((r) => r.url);
    const url = await exec();
    expect(url).toMatch(/\/exec\/[A-Za-z0-9_-]+$/);
    const bogus = url.replace(/[^/]+$/, 'AAAAAAAAAAAAAAAAAAAAAA');
    expect(await httpStatus(bogus)).toBe(404);
    expect(await httpStatus(url.replace('/exec/', '/attach/'))).toBe(404); // and that used it up
    expect(await httpStatus(url)).toBe(404);
    const once = await exec();
    expect(await httpStatus(once)).toBe(400); // valid, consumed (no upgrade offered)
    expect(await httpStatus(once)).toBe(404); // second use
    const late = await exec();
    await new Promise((r) => setTimeout(r, 1500));
    expect(await httpStatus(late)).toBe(404); // expired (token_ttl_seconds = 1)
    // a fresh one still works end to end
    expect((await d.crictl('exec', ctr, 'echo', 'alive')).trim()).toBe('alive');
  });
});
