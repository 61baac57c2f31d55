// Pod user namespaces (kubelet's hostUsers: false → userns_options mode POD) on a private daemon
// whose runc handler runs runc >= 1.2 (e2e/setup.sh builds it). The pod's container is root
// inside, its /proc/self/uid_map shows the pod's mapping, it mounts /proc and /sys of namespaces
// its user namespace owns, and a host volume is idmapped: the pod's root may write a root-owned
// host dir, and what it writes is owned by the host ids the mapping gives (its root → host 0,
// its 1000 → host 1000), while the image layers appear root-owned inside. Handlers that cannot
// (crun here) say so in Status and refuse such pods; bad mappings are InvalidArgument.
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { criClient, grpcCode, type CriClient } from './lib/cri-grpc.js';
import { mountsUnder, ownDaemon, RUNC, type OwnDaemon } from './lib/own-daemon.js';

const IMAGE = 'docker.io/library/busybox:latest';
// kubelet hands out 65536 ids per pod from 65536 up; an odd base keeps this spec's files apart.
const HOST_BASE = 3 * 65536 + 65536 * 16;
const MAP = [{ container_id: 0, host_id: HOST_BASE, length: 65536 }];
const USERNS = { network: 'POD', pid: 'POD', ipc: 'POD', userns_options: { mode: 'POD', uids: MAP, gids: MAP } };

describe('pod user namespaces (hostUsers: false)', () => {
  let d: OwnDaemon;
  let cri: CriClient;
  let pod = '';
  let ctr = '';
  let vol = '';
  const podConfig = (name: string, ns: unknown = USERNS) => ({
    metadata: { name, namespace: 'userns', uid: `${name}-uid`, attempt: 0 },
    hostname: `${name}-host`,
    log_directory: join(d.logDir, name),
    // Namespaced sysctls are set by the setup shell inside the new namespaces, as a mapped-less
    // creator with the user namespace's capabilities (unshare --keep-caps).
    linux: { security_context: { namespace_options: ns }, sysctls: { 'net.ipv4.ip_unprivileged_port_start': '81', 'kernel.shm_rmid_forced': '1' } },
  });
  const sh = async (script: string) => {
    const r = await cri.call<{ stdout: Buffer; stderr: Buffer; exit_code: number }>('ExecSync', { container_id: ctr, cmd: ['sh', '-c', script], timeout: 30 });
    expect(r.exit_code, `${script}: ${r.stderr.toString()}`).toBe(0);
    return r.stdout.toString();
  };

  beforeAll(async () => {
    d = ownDaemon('userns', { extraToml: `[runtime_handlers.runc]\nkind = "oci"\nruntime_path = "${RUNC}"\n[runtime_handlers.crun]\nkind = "oci"\nruntime_path = "crun"\n` });
    // mkdtemp's 0700 would stop the pod's root (an "other" user to the host) on its way to the
    // rootfs under the daemon root; the daemon opens its own root dir to search (0711) itself.
    chmodSync(d.dir, 0o711);
    vol = join(d.dir, 'emptydir');
    mkdirSync(vol, { mode: 0o755 }); // root-owned 0755, as kubelet makes an emptyDir
    await d.start();
    await d.crictl('pull', IMAGE);
    cri = criClient(d.sock);
    const cfg = podConfig('uns');
    ({ pod_sandbox_id: pod } = await cri.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: cfg, runtime_handler: 'runc' }));
    ({ container_id: ctr } = await cri.call<{ container_id: string }>('CreateContainer', {
      pod_sandbox_id: pod,
      config: {
        metadata: { name: 'c', attempt: 0 },
        image: { image: IMAGE },
        command: ['sleep', '3600'],
        log_path: 'c.log',
        mounts: [{ container_path: '/vol', host_path: vol }],
        linux: { security_context: { namespace_options: USERNS } },
      },
      sandbox_config: cfg,
    }));
    await cri.call('StartContainer', { container_id: ctr });
  }, 180_000);

  afterAll(async () => {
    if (pod) {
      await cri.call('StopPodSandbox', { pod_sandbox_id: pod }).catch(() => undefined);
      await cri.call('RemovePodSandbox', { pod_sandbox_id: pod }).catch(() => undefined);
    }
    cri?.close();
    await d?.cleanup();
  });

  it('Status announces user namespaces for the runc >= 1.2 handler only', async () => {
    const r = await cri.call<{ runtime_handlers: { name: string; features: { user_namespaces: boolean } | null }[] }>('Status', { verbose: false });
    const feature = (name: string) => r.runtime_handlers.find((h) => h.name === name)?.features?.user_namespaces;
    expect(feature('runc')).toBe(true);
    expect(feature('crun')).toBe(false);
  });

  it('the container is root inside and sees the mapping in /proc/self/uid_map', async () => {
    expect(await sh('id -u; id -g')).toBe('0\n0\n');
    expect((await sh('cat /proc/self/uid_map')).trim().split(/\s+/)).toEqual(['0', String(HOST_BASE), '65536']);
    expect((await sh('cat /proc/self/gid_map')).trim().split(/\s+/)).toEqual(['0', String(HOST_BASE), '65536']);
    // Joined, not made per container: the pinned pod namespace's inode.
    const podUserns = statSync(join(d.state, 'pods', pod, 'ns', 'user')).ino;
    expect(await sh('readlink /proc/self/ns/user')).toBe(`user:[${podUserns}]\n`);
  });

  it('mounts /proc, /sys and the cgroup tree, with the pod hostname, network, sysctls and /dev/shm', async () => {
    const mounts = await sh('cat /proc/mounts');
    expect(mounts).toMatch(/^proc \/proc proc /m);
    expect(mounts).toMatch(/^sysfs \/sys sysfs /m);
    expect(mounts).toMatch(/ \/sys\/fs\/cgroup /);
    expect(await sh('ls /sys/class/net | sort')).toBe('eth0\nlo\n');
    expect(await sh('hostname')).toBe('uns-host\n');
    expect(await sh('cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shm_rmid_forced')).toBe('81\n1\n');
    expect(await sh('echo x > /dev/shm/x && cat /dev/shm/x')).toBe('x\n');
  });

  it('the image layers are idmapped: root-owned inside, copy-ups owned by the mapped root on the host', async () => {
    expect(await sh('stat -c %u:%g /etc/passwd /bin/sh')).toBe('0:0\n0:0\n');
    await sh('echo changed >> /etc/motd-userns && chown 1000:1000 /etc/motd-userns');
    const upper = join(d.root, 'containers', ctr, 'upper', 'etc', 'motd-userns');
    expect(statSync(upper)).toMatchObject({ uid: HOST_BASE + 1000, gid: HOST_BASE + 1000 });
  });

  it('a host volume is idmapped: written as the container ids map back to the host (root → 0)', async () => {
    await sh('touch /vol/by-root && mkdir /vol/app && touch /vol/app/f && chown -R 1000:1000 /vol/app');
    expect(statSync(join(vol, 'by-root'))).toMatchObject({ uid: 0, gid: 0 });
    expect(statSync(join(vol, 'app', 'f'))).toMatchObject({ uid: 1000, gid: 1000 });
    expect(await sh('stat -c %u /vol/by-root /vol/app/f')).toBe('0\n1000\n');
  });

  it.each([
    ['two uid mappings', { ...USERNS, userns_options: { mode: 'POD', uids: [...MAP, { container_id: 0, host_id: 2000, length: 100 }], gids: MAP } }, /exactly one uid mapping, got 2/],
    ['container id 1', { ...USERNS, userns_options: { mode: 'POD', uids: [{ container_id: 1, host_id: HOST_BASE, length: 65536 }], gids: MAP } }, /container id 0/],
    ['mode CONTAINER', { ...USERNS, userns_options: { mode: 'CONTAINER' } }, /mode CONTAINER is not supported/],
    ['host network', { ...USERNS, network: 'NODE' }, /cannot share the host's network namespace/],
  ])('%s: InvalidArgument, nothing left behind', async (_what, ns, msg) => {
    const err = await cri.call('RunPodSandbox', { config: podConfig('bad', ns), runtime_handler: 'runc' }).catch((e: unknown) => e);
    expect(grpcCode(err)).toBe(status.INVALID_ARGUMENT);
    expect(String((err as Error).message)).toMatch(msg);
    const { items } = await cri.call<{ items: { metadata: { name: string } }[] }>('ListPodSandbox', {});
    expect(items.map((p) => p.metadata.name)).toEqual(['uns']);
  });

  it('the crun handler refuses a user-namespace pod', async () => {
    const err = await cri.call('RunPodSandbox', { config: podConfig('on-crun'), runtime_handler: 'crun' }).catch((e: unknown) => e);
    expect(grpcCode(err)).toBe(status.INVALID_ARGUMENT);
    // Where crun works at all (not on a hybrid cgroup host like CI's, where the handler is
    // unusable and says that first), the reason is the user-namespace support itself.
    expect(String((err as Error).message)).toMatch(/crun: user-namespace pods are supported on runc >= 1\.2 handlers only|runtime handler "crun": crun does not support this host/);
  });

  it('removing the pod unpins its namespaces and unmounts the idmapped layers', async () => {
    await cri.call('StopPodSandbox', { pod_sandbox_id: pod });
    await cri.call('RemovePodSandbox', { pod_sandbox_id: pod });
    pod = '';
    expect(mountsUnder(d.root, d.state)).toEqual([]);
  });
});
