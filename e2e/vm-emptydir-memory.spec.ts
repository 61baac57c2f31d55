// A kubelet emptyDir of medium Memory in a micro-VM pod: kubelet mounts a tmpfs at
// <root>/pods/<uid>/volumes/kubernetes.io~empty-dir/<name> and passes it as a bind mount; the VM
// runtime makes it a tmpfs in guest RAM instead of sharing the host's over virtio-fs
// (pkg/runtime/vm/ephemeral-volume.ts, pkg/agent/ephemeral.ts). Here the spec plays kubelet: a 16 MiB
// tmpfs (mode 0777) at a kubelet-shaped path under the daemon's temp dir, a subPath bind into it as
// kubelet makes one, and a disk emptyDir (a plain dir), bound into two containers of one VM pod. The
// tmpfs is chowned to an fsGroup (123, setgid) as kubelet's SetVolumeOwnership does.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountsUnder, ownDaemon, VM_HANDLERS_TOML, teardownPodDaemon, type OwnDaemon } from './lib/own-daemon.js';
import { criClient, type CriClient } from './lib/cri-grpc.js';
import { podVmDir } from '../pkg/runtime/vm/vm-state.js';

const run = promisify(execFile);
const IMAGE = 'docker.io/library/busybox:latest';
const isRoot = process.getuid?.() === 0;
const vmEnabled = process.env.BULKHEAD_RELIABILITY_VM !== '0';
const UID = '3c1f0a52-emptydir-memory';

/** pids of QEMU and virtiofsd processes whose command line mentions s (they name their VM dir). */
function vmmMentioning(s: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (/qemu-system|virtiofsd/.test(cmd[0] ?? '') && cmd.some((a) => a.includes(s))) out.push(Number(p));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

describe.skipIf(!isRoot || !vmEnabled)('micro-VM pod: emptyDir medium Memory is a tmpfs in guest RAM', () => {
  let d: OwnDaemon;
  let cri: CriClient;
  let pod = '';
  let a = '';
  let b = '';
  let podDir = '';
  let cacheDir = '';
  let subDir = '';
  let diskDir = '';
  let tmpfsDev = '';

  const exec = async (ctr: string, script: string): Promise<{ out: string; err: string; code: number }> => {
    const r = await cri.call<{ stdout: Buffer; stderr: Buffer; exit_code: number }>('ExecSync', { container_id: ctr, cmd: ['sh', '-c', script], timeout: 90 }, 120_000);
    return { out: r.stdout.toString().trim(), err: r.stderr.toString().trim(), code: r.exit_code };
  };

  beforeAll(async () => {
    d = ownDaemon('vm-emptydir', { extraToml: VM_HANDLERS_TOML });
    // kubelet's layout under a root of our own: the memory volume, a subPath bind into it, a disk volume.
    podDir = join(d.dir, 'kubelet', 'pods', UID);
    cacheDir = join(podDir, 'volumes', 'kubernetes.io~empty-dir', 'cache');
    diskDir = join(podDir, 'volumes', 'kubernetes.io~empty-dir', 'disk');
    subDir = join(podDir, 'volume-subpaths', 'cache', 'a', '2');
    for (const dir of [cacheDir, diskDir, subDir]) mkdirSync(dir, { recursive: true });
    await run('mount', ['-t', 'tmpfs', '-o', 'size=16m,mode=0777', 'tmpfs', cacheDir]);
    await run('chown', ['0:123', cacheDir]);
    await run('chmod', ['2777', cacheDir]);
    mkdirSync(join(cacheDir, 'logs'), { mode: 0o777 });
    await run('mount', ['--bind', join(cacheDir, 'logs'), subDir]);
    tmpfsDev = mountsUnder(cacheDir).find((l) => l.split(' ')[4] === cacheDir)!.split(' ')[2]!;
    await d.start();
    await d.crictl('pull', IMAGE);
    cri = criClient(d.sock);
    const cfg = { metadata: { name: 'emptydir', namespace: 'emptydir', uid: UID, attempt: 0 }, log_directory: join(d.logDir, 'emptydir'), linux: {} };
    ({ pod_sandbox_id: pod } = await cri.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: cfg, runtime_handler: 'microvm' }, 240_000));
    const create = async (name: string, mounts: Record<string, unknown>[]): Promise<string> => {
      const { container_id } = await cri.call<{ container_id: string }>('CreateContainer', {
        pod_sandbox_id: pod,
        config: { metadata: { name, attempt: 0 }, image: { image: IMAGE }, command: ['sleep', '3600'], log_path: `${name}.log`, mounts },
        sandbox_config: cfg,
      }, 180_000);
      await cri.call('StartContainer', { container_id }, 180_000);
      return container_id;
    };
    a = await create('a', [
      { container_path: '/cache', host_path: cacheDir },
      { container_path: '/logs', host_path: subDir },
      { container_path: '/disk', host_path: diskDir },
    ]);
    b = await create('b', [
      { container_path: '/cache', host_path: cacheDir },
      { container_path: '/cache-ro', host_path: cacheDir, readonly: true },
    ]);
  });
  afterAll(async () => {
    await cri?.call('StopPodSandbox', { pod_sandbox_id: pod }, 60_000).catch(() => undefined);
    await cri?.call('RemovePodSandbox', { pod_sandbox_id: pod }, 60_000).catch(() => undefined);
    // Ours to undo before the daemon's temp dir goes: kubelet's part of the play.
    if (subDir) await run('umount', [subDir]).catch(() => undefined);
    if (cacheDir) await run('umount', [cacheDir]).catch(() => undefined);
    await teardownPodDaemon(cri, pod, d);
  });

  it('the memory volume is a tmpfs of the host size and mode in the guest; the disk one stays virtio-fs', async () => {
    expect((await exec(a, 'stat -f -c %T /cache')).out).toBe('tmpfs');
    expect((await exec(b, 'stat -f -c %T /cache')).out).toBe('tmpfs');
    expect((await exec(a, 'stat -c "%a %u %g" /cache')).out).toBe('2777 0 123');
    // f_blocks * f_bsize = the host tmpfs's 16 MiB.
    const [blocks, bsize] = (await exec(a, 'stat -f -c "%b %S" /cache')).out.split(' ').map(Number);
    expect(blocks! * bsize!).toBe(16 << 20);
    expect((await exec(a, "awk '$2 == \"/disk\" {print $3}' /proc/mounts")).out).toBe('virtiofs');
    expect((await exec(a, "awk '$2 == \"/cache\" {print $3}' /proc/mounts")).out).toBe('tmpfs');
    // The host's tmpfs is bound nowhere else (not into the pod share): only our volume mount and subPath bind.
    const onHost = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[2] === tmpfsDev).map((l) => l.split(' ')[4]);
    expect(onHost.sort()).toEqual([cacheDir, subDir].sort());
  });

  it('a file written by one container is read by the other; the read-only bind refuses writes', async () => {
    expect((await exec(a, 'echo hello-from-a > /cache/f && echo ok')).out).toBe('ok');
    expect((await exec(b, 'cat /cache/f')).out).toBe('hello-from-a');
    // The fsGroup's setgid dir gives new files its group, as on the host.
    expect((await exec(b, 'stat -c %g /cache/f')).out).toBe('123');
    expect((await exec(b, 'cat /cache-ro/f')).out).toBe('hello-from-a');
    const ro = await exec(b, 'echo x > /cache-ro/g');
    expect(ro.code).not.toBe(0);
    expect(ro.err).toMatch(/Read-only file system/);
    // The subPath bind is the guest volume's dir: b sees what a writes there.
    expect((await exec(a, 'echo in-subpath > /logs/x && stat -f -c %T /logs')).out).toBe('tmpfs');
    expect((await exec(b, 'cat /cache/logs/x')).out).toBe('in-subpath');
    // Made by the agent with the volume root's mode (kubelet's SafeMakeDir), its group inherited.
    expect((await exec(b, 'stat -c "%a %g" /cache/logs')).out).toBe('2777 123');
    // Guest RAM, not the host's tmpfs.
    expect(existsSync(join(cacheDir, 'f'))).toBe(false);
    expect(readdirSync(join(cacheDir, 'logs'))).toEqual([]);
  });

  it('the size limit holds: writing past 16 MiB fails with ENOSPC', async () => {
    const r = await exec(a, 'dd if=/dev/zero of=/cache/big bs=1M count=20 2>&1; echo "rc=$?"');
    expect(r.out).toMatch(/No space left on device/);
    expect(r.out).toMatch(/rc=[1-9]/);
    const used = Number((await exec(b, 'stat -c %s /cache/big')).out);
    expect(used).toBeGreaterThan(15 << 20);
    expect(used).toBeLessThanOrEqual(16 << 20);
    await exec(a, 'rm -f /cache/big');
  });

  it('nothing of the pod is left after it is removed', async () => {
    const vmDir = podVmDir(join(d.state, 'pods', pod));
    expect(vmmMentioning(vmDir).length).toBeGreaterThan(0);
    await cri.call('StopPodSandbox', { pod_sandbox_id: pod }, 60_000);
    await cri.call('RemovePodSandbox', { pod_sandbox_id: pod }, 60_000);
    expect(vmmMentioning(vmDir)).toEqual([]);
    expect(existsSync(vmDir)).toBe(false);
    expect(mountsUnder(d.state, d.root).filter((l) => l.includes(pod) || l.includes(vmDir))).toEqual([]);
    const { stdout: left } = await run('find', [d.state, d.root, '-name', `*${pod.slice(0, 12)}*`]);
    expect(left.trim()).toBe('');
    // kubelet's tmpfs is untouched (kubelet unmounts it itself) and still empty but for its subPath dir.
    expect(readdirSync(cacheDir)).toEqual(['logs']);
  });
});
