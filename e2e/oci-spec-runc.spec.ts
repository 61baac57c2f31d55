// Proves runc 1.1 accepts the specs pkg/oci emits: builds a busybox-static rootfs, writes a
// container spec with RuntimeDefault seccomp, dropped capabilities, an image user, a memory limit
// and sandbox files, runs it with `runc run` and checks what the process sees.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type * as cri from '../pkg/api/cri-types.js';
import { buildContainerSpec, buildInfraSpec, type SandboxSpecInfo } from '../pkg/oci/spec-builder.js';
import type { OciSpec } from '../pkg/oci/spec-types.js';
import { containerConfig, podConfig, resources } from '../pkg/oci/test-fixtures.js';

const BUSYBOX = '/bin/busybox';
const haveTools = existsSync(BUSYBOX) && spawnSync('runc', ['--version']).status === 0 && process.getuid?.() === 0;
const suffix = randomBytes(4).toString('hex');
const cgroupParent = `/bulkhead-test-ocispec-${suffix}`;

let tmp: string;
let rootfs: string;
let runcRoot: string;
let hostOomMin: number;

function makeRootfs(dir: string): void {
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  for (const applet of ['sh', 'id', 'cat', 'grep', 'mount', 'chown', 'touch', 'echo', 'hostname', 'sleep']) symlinkSync('busybox', join(dir, 'bin', applet));
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/tmp:/bin/sh\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\napp:x:1000:\nstaff:x:50:app\n');
  writeFileSync(join(dir, 'etc/hostname'), 'image-hostname\n');
}

function runSpec(name: string, spec: OciSpec): { status: number | null; stdout: string; stderr: string } {
  const bundle = join(tmp, `bundle-${name}`);
  mkdirSync(bundle);
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec, null, 2));
  const id = `bulkhead-ocispec-${suffix}-${name}`;
  const r = spawnSync('runc', ['--root', runcRoot, 'run', '--bundle', bundle, id], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
  // `runc run` deletes the container when its process exits; make sure even on timeouts.
  spawnSync('runc', ['--root', runcRoot, 'delete', '--force', id], { stdio: 'ignore' });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function sandbox(files: boolean): SandboxSpecInfo {
  const dir = join(tmp, 'sandbox');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'hostname'), 'pod-hostname\n');
  writeFileSync(join(dir, 'hosts'), '127.0.0.1 localhost\n');
  writeFileSync(join(dir, 'resolv.conf'), 'nameserver 192.0.2.53\n');
  return {
    id: `sb-${suffix}`,
    config: podConfig(),
    cgroupParent,
    ...(files ? { hostnamePath: join(dir, 'hostname'), hostsPath: join(dir, 'hosts'), resolvConfPath: join(dir, 'resolv.conf') } : {}),
  };
}

function capMask(caps: string[], names: readonly string[]): bigint {
  let mask = 0n;
  for (const c of caps) mask |= 1n << BigInt(names.indexOf(c));
  return mask;
}

describe.skipIf(!haveTools)('OCI specs run by runc', () => {
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'bulkhead-ocispec-e2e-'));
    rootfs = join(tmp, 'rootfs');
    runcRoot = join(tmp, 'runc');
    makeRootfs(rootfs);
    hostOomMin = Number(readFileSync('/proc/self/oom_score_adj', 'utf8').trim());
  });

  afterAll(() => {
    // runc removes the container cgroups; remove the parent it created in every v1 controller / v2.
    for (const ctrl of readdirSync('/sys/fs/cgroup')) {
      const dir = join('/sys/fs/cgroup', ctrl, cgroupParent);
      for (const leaf of ['c-root', 'c-user', 'c-priv', 'c-ns', 'infra']) {
        try { rmdirSync(join(dir, leaf)); } catch { /* gone */ }
      }
      try { rmdirSync(dir); } catch { /* gone or never created */ }
    }
    if (existsSync(join('/sys/fs/cgroup', cgroupParent))) {
      try { rmdirSync(join('/sys/fs/cgroup', cgroupParent)); } catch { /* ignore */ }
    }
    rmSync(tmp, { recursive: true, force: true });
  });

  it('root with dropped caps, RuntimeDefault seccomp, memory limit, sandbox files', async () => {
    const { CAPABILITY_NAMES, DEFAULT_CAPABILITIES } = await import('../pkg/oci/capabilities.js');
    const config = containerConfig(
      {
        command: ['/bin/sh', '-c', 'id; grep -E "^(CapEff|CapBnd|Seccomp|NoNewPrivs):" /proc/self/status; cat /etc/resolv.conf; cat /proc/self/oom_score_adj; cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; chown 1:1 /tmp 2>/dev/null && echo CHOWN-OK || echo CHOWN-DENIED; mount -t tmpfs none /tmp 2>&1 && echo MOUNT-OK || echo MOUNT-DENIED'],
        envs: [{ key: 'GREETING', value: Buffer.from('hi') }],
      },
      {
        capabilities: { add_capabilities: [], drop_capabilities: ['CHOWN'], add_ambient_capabilities: [] },
        seccomp: { profile_type: 'RuntimeDefault', localhost_ref: '' },
        no_new_privs: true,
      },
    );
    config.linux!.resources = resources({ memory_limit_in_bytes: String(64 * 1024 * 1024), cpu_shares: '256', oom_score_adj: '-500', hugepage_limits: [{ page_size: '2MB', limit: '0' }] });
    const spec = buildContainerSpec({
      containerId: `c-root-${suffix}`,
      config,
      sandbox: sandbox(true),
      imageConfig: { Env: ['PATH=/bin'] },
      rootfsPath: rootfs,
      cgroupsPath: `${cgroupParent}/c-root`,
      hostOomScoreAdjMin: hostOomMin,
    });
    const r = runSpec('root', spec);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = r.stdout;
    expect(out).toContain('uid=0(root) gid=0(root)');
    const want = capMask(DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_CHOWN'), CAPABILITY_NAMES);
    const capEff = BigInt('0x' + /CapEff:\s*([0-9a-f]+)/.exec(out)![1]);
    const capBnd = BigInt('0x' + /CapBnd:\s*([0-9a-f]+)/.exec(out)![1]);
    expect(capEff.toString(16)).toBe(want.toString(16));
    expect(capBnd.toString(16)).toBe(want.toString(16));
    expect(out).toMatch(/Seccomp:\s*2/);
    expect(out).toMatch(/NoNewPrivs:\s*1/);
    expect(out).toContain('nameserver 192.0.2.53');
    expect(out).toContain(`\n${Math.max(-500, hostOomMin)}\n`);
    expect(out).toContain(String(64 * 1024 * 1024));
    expect(out).toContain('CHOWN-DENIED');
    expect(out).toContain('MOUNT-DENIED');
  });

  it('image user with supplemental groups and a read-only rootfs', () => {
    const config = containerConfig(
      { command: ['/bin/sh', '-c', 'id; touch /x 2>/dev/null && echo RW || echo RO; grep CapEff /proc/self/status'] },
      { supplemental_groups: ['4000'], readonly_rootfs: true, seccomp: { profile_type: 'RuntimeDefault', localhost_ref: '' } },
    );
    const spec = buildContainerSpec({
      containerId: `c-user-${suffix}`,
      config,
      sandbox: sandbox(false),
      imageConfig: { User: 'app', Env: ['PATH=/bin'] },
      rootfsPath: rootfs,
      cgroupsPath: `${cgroupParent}/c-user`,
      hostOomScoreAdjMin: hostOomMin,
    });
    const r = runSpec('user', spec);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const m = /uid=1000\(app\) gid=1000\(app\) groups=(\S+)/.exec(r.stdout);
    expect(m?.[1]?.split(',').sort()).toEqual(['1000(app)', '4000', '50(staff)']);
    expect(r.stdout).toContain('RO');
    expect(r.stdout).toMatch(/CapEff:\s*0+\n/);
  });

  it('privileged with a recursive read-only bind and a device', () => {
    const vol = join(tmp, 'vol');
    mkdirSync(join(vol, 'sub'), { recursive: true });
    writeFileSync(join(vol, 'sub/file'), 'data\n');
    const config = containerConfig(
      {
        command: ['/bin/sh', '-c', 'cat /vol/sub/file; touch /vol/new 2>/dev/null && echo VOL-RW || echo VOL-RO; grep CapEff /proc/self/status; echo x > /dev/mynull && echo DEV-OK; cat /proc/kcore >/dev/null 2>&1; echo done'],
        mounts: [{ container_path: '/vol', host_path: vol, readonly: true, recursive_read_only: true, selinux_relabel: false, propagation: 'PROPAGATION_PRIVATE', uidMappings: [], gidMappings: [], image: null, image_sub_path: '' }],
        devices: [{ host_path: '/dev/null', container_path: '/dev/mynull', permissions: 'rwm' }],
      },
      { privileged: true },
    );
    const pod = podConfig({ linux: { cgroup_parent: cgroupParent, security_context: { privileged: true } as cri.LinuxSandboxSecurityContext__Output, sysctls: {}, overhead: null, resources: null } });
    const spec = buildContainerSpec({
      containerId: `c-priv-${suffix}`,
      config,
      sandbox: { ...sandbox(false), config: pod },
      imageConfig: { Env: ['PATH=/bin'] },
      rootfsPath: rootfs,
      cgroupsPath: `${cgroupParent}/c-priv`,
      hostOomScoreAdjMin: hostOomMin,
    });
    const r = runSpec('priv', spec);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('data');
    expect(r.stdout).toContain('VOL-RO');
    expect(r.stdout).toContain('DEV-OK');
    // Every capability we have ourselves (root here lacks CAP_SYS_RESOURCE).
    const ours = /CapBnd:\s*([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1];
    expect(/CapEff:\s*([0-9a-f]+)/.exec(r.stdout)![1]).toBe(ours);
  });

  it('joins pod namespaces held by another process, sets the hostname, binds the pod shm', async () => {
    const holder = spawn('unshare', ['--net', '--ipc', '--uts', 'sleep', '120'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 200));
      const ns = (t: string) => `/proc/${holder.pid}/ns/${t}`;
      const shm = join(tmp, 'shm');
      mkdirSync(shm);
      writeFileSync(join(shm, 'marker'), 'pod-shm');
      const sb: SandboxSpecInfo = { ...sandbox(true), netnsPath: ns('net'), ipcnsPath: ns('ipc'), utsnsPath: ns('uts'), shmPath: shm };
      const config = containerConfig({ command: ['/bin/sh', '-c', 'hostname; cat /dev/shm/marker; echo; cat /proc/net/dev | grep -c :; readlink /proc/self/ns/net'] });
      const spec = buildContainerSpec({ containerId: `c-ns-${suffix}`, config, sandbox: sb, imageConfig: { Env: ['PATH=/bin'] }, rootfsPath: rootfs, cgroupsPath: `${cgroupParent}/c-ns`, hostOomScoreAdjMin: hostOomMin });
      const r = runSpec('ns', spec);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines[0]).toBe('podhost');
      expect(lines[1]).toBe('pod-shm');
      expect(lines[2]).toBe('1'); // only lo in the pod's fresh network namespace
      expect(lines[3]).toBe(readlinkSync(ns('net')));
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('infra spec: empty read-only root with the binary bind-mounted, new pid namespace', () => {
    const empty = join(tmp, 'infra-root');
    mkdirSync(empty);
    const spec = buildInfraSpec({
      sandbox: sandbox(false),
      rootfsPath: empty,
      args: ['/busybox', 'sh', '-c', 'echo pid=$$'],
      cgroupsPath: `${cgroupParent}/infra`,
      hostOomScoreAdjMin: hostOomMin,
      extraMounts: [{ destination: '/busybox', type: 'bind', source: BUSYBOX, options: ['rbind', 'ro', 'nosuid', 'nodev'] }],
    });
    const r = runSpec('infra', spec);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('pid=1');
  });
});

// Keep the fixture type import used (the CRI types are only needed for the helpers above).
export type _Unused = cri.ContainerConfig__Output;
