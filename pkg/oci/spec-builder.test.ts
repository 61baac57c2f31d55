import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as cri from '../api/cri-types.js';
import { buildContainerSpec, buildInfraSpec, processArgs, mergeEnv, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, type ContainerSpecInput, type SandboxSpecInfo } from './spec-builder.js';
import { DEFAULT_CAPABILITIES, CAPABILITY_NAMES, allKernelCapabilities } from './capabilities.js';
import { parseMountInfo } from './mount-propagation.js';
import type { OciImageConfig } from './spec-types.js';
import { containerConfig, podConfig, criMount, resources } from './test-fixtures.js';

let tmp: string;
let rootfs: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'bulkhead-spec-'));
  rootfs = join(tmp, 'rootfs');
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\napp:x:1000:\nstaff:x:50:app\n');
  mkdirSync(join(tmp, 'vol'));
  mkdirSync(join(tmp, 'shared'));
  symlinkSync(join(tmp, 'vol'), join(tmp, 'vol-link'));
  mkdirSync(join(tmp, 'dev/dri'), { recursive: true });
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const ALL = CAPABILITY_NAMES.slice(0, 41);

function sandbox(over: Partial<SandboxSpecInfo> = {}, podOver: Partial<cri.PodSandboxConfig__Output> = {}): SandboxSpecInfo {
  return {
    id: 'sb1',
    config: podConfig(podOver),
    netnsPath: '/run/netns/x',
    ipcnsPath: '/run/ipcns/x',
    utsnsPath: '/run/utsns/x',
    pidnsPath: '/proc/42/ns/pid',
    cgroupParent: '/kubepods/pod1',
    resolvConfPath: '/sb/resolv.conf',
    hostnamePath: '/sb/hostname',
    hostsPath: '/sb/hosts',
    shmPath: '/sb/shm',
    ...over,
  };
}

function build(config: cri.ContainerConfig__Output, over: Partial<ContainerSpecInput> = {}, image: OciImageConfig = {}) {
  return buildContainerSpec({
    containerId: 'c1',
    config,
    sandbox: sandbox(),
    imageConfig: image,
    rootfsPath: rootfs,
    cgroupsPath: '/kubepods/pod1/c1',
    hostOomScoreAdjMin: 0,
    cgroupMode: 'v1',
    hugetlbAvailable: true,
    allCapabilities: ALL,
    readMountInfo: () =>
      parseMountInfo(
        [
          '22 1 0:21 / / rw - ext4 /dev/root rw',
          `30 22 0:30 / ${join(tmp, 'shared')} rw shared:7 - tmpfs tmpfs rw`,
        ].join('\n'),
      ),
    ...over,
  });
}

describe('process args (containerd rules)', () => {
  const image = { Entrypoint: ['/ep'], Cmd: ['cmd1', 'cmd2'] };
  it.each([
    [[], [], ['/ep', 'cmd1', 'cmd2']],
    [['/bin/sh'], [], ['/bin/sh']],
    [[], ['a'], ['/ep', 'a']],
    [['/bin/sh'], ['-c', 'x'], ['/bin/sh', '-c', 'x']],
  ])('command %j args %j', (command, args, want) => {
    expect(processArgs({ command, args }, image)).toEqual(want);
  });
  it('no command anywhere is InvalidArgument', () => {
    expect(() => processArgs({ command: [], args: [] }, {})).toThrow(/no command/);
  });
});

describe('env', () => {
  it('image env then CRI env, replaced by key in place', () => {
    expect(mergeEnv(['A=1', 'B=2'], ['B=3', 'C=4'])).toEqual(['A=1', 'B=3', 'C=4']);
    const spec = build(containerConfig({ command: ['x'], envs: [{ key: 'FOO', value: Buffer.from('cri') }, { key: 'NEW', value: Buffer.from('v=1') }] }), {}, { Env: ['PATH=/img', 'FOO=img'] });
    expect(spec.process.env).toEqual(['PATH=/img', 'HOSTNAME=podhost', 'FOO=cri', 'NEW=v=1']);
  });
  it('default PATH when the image has none', () => {
    expect(build(containerConfig({ command: ['x'] })).process.env[0]).toMatch(/^PATH=\/usr\/local\/sbin/);
  });
});

describe('basic container spec', () => {
  const spec = () => build(containerConfig({ command: ['sh'], tty: true, working_dir: '' }), {}, { WorkingDir: '/work', User: 'app' });
  it('process', () => {
    const s = spec();
    expect(s.process).toMatchObject({ terminal: true, cwd: '/work', user: { uid: 1000, gid: 1000, additionalGids: [1000, 50] }, noNewPrivileges: false, oomScoreAdj: 0 });
    expect(s.process.capabilities?.bounding).toEqual(DEFAULT_CAPABILITIES);
    expect(s.process.capabilities?.inheritable).toEqual([]);
    expect(s.root).toEqual({ path: rootfs, readonly: false });
    expect(s.hostname).toBe('podhost');
    expect(s.linux.cgroupsPath).toBe('/kubepods/pod1/c1');
  });
  it('namespaces join the sandbox', () => {
    expect(spec().linux.namespaces).toEqual([
      { type: 'pid' },
      { type: 'ipc', path: '/run/ipcns/x' },
      { type: 'uts', path: '/run/utsns/x' },
      { type: 'mount' },
      { type: 'network', path: '/run/netns/x' },
    ]);
  });
  it('mounts: defaults, sandbox files, sorted by depth', () => {
    const m = spec().mounts;
    expect(m.map((x) => x.destination)).toEqual(['/proc', '/dev', '/sys', '/dev/pts', '/dev/mqueue', '/dev/shm', '/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/sys/fs/cgroup']);
    expect(m.find((x) => x.destination === '/dev/shm')).toMatchObject({ type: 'bind', source: '/sb/shm' });
    expect(m.find((x) => x.destination === '/sys')?.options).toContain('ro');
    expect(m.find((x) => x.destination === '/sys/fs/cgroup')?.options).toContain('ro');
  });
  it('masked and readonly paths default like containerd', () => {
    expect(spec().linux.maskedPaths).toEqual(DEFAULT_MASKED_PATHS);
    expect(spec().linux.readonlyPaths).toEqual(DEFAULT_READONLY_PATHS);
  });
  it('annotations', () => {
    expect(spec().annotations).toMatchObject({
      'io.kubernetes.cri.container-type': 'container',
      'io.kubernetes.cri.sandbox-id': 'sb1',
      'io.kubernetes.cri.container-name': 'ctr',
      'io.kubernetes.cri.sandbox-namespace': 'default',
    });
  });
  it('no seccomp when nothing asked (CRI default is unconfined)', () => {
    expect(spec().linux.seccomp).toBeUndefined();
  });
  it('no tmpfs /dev/shm bind without sandbox shm, host namespaces when paths are absent', () => {
    const s = build(containerConfig({ command: ['x'] }), { sandbox: sandbox({ shmPath: undefined, netnsPath: undefined, utsnsPath: undefined, ipcnsPath: undefined }) });
    expect(s.mounts.find((x) => x.destination === '/dev/shm')).toMatchObject({ type: 'tmpfs' });
    expect(s.linux.namespaces.map((n) => n.type)).toEqual(['pid', 'mount']);
    expect(s.hostname).toBeUndefined();
  });
});

describe('users', () => {
  it('run_as_user / run_as_group / supplemental groups', () => {
    const s = build(containerConfig({ command: ['x'] }, { run_as_user: { value: '1000' }, run_as_group: { value: '3000' }, supplemental_groups: ['4000'] }));
    expect(s.process.user).toEqual({ uid: 1000, gid: 3000, additionalGids: [3000, 50, 4000] });
  });
  it('Strict ignores /etc/group', () => {
    const s = build(containerConfig({ command: ['x'] }, { run_as_username: 'app', supplemental_groups: ['4000'], supplemental_groups_policy: 'Strict' }));
    expect(s.process.user).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000, 4000] });
  });
  it('unknown username is InvalidArgument', () => {
    expect(() => build(containerConfig({ command: ['x'] }, { run_as_username: 'nope' }))).toThrow(/not found/);
  });
});

describe('capabilities', () => {
  const caps = (c: Partial<cri.Capability__Output>, priv = false) =>
    build(containerConfig({ command: ['x'] }, { privileged: priv, capabilities: { add_capabilities: [], drop_capabilities: [], add_ambient_capabilities: [], ...c } }), {
      sandbox: sandbox({}, { linux: { cgroup_parent: '', security_context: { privileged: priv } as cri.LinuxSandboxSecurityContext__Output, sysctls: {}, overhead: null, resources: null } }),
    }).process.capabilities!;
  it('add and drop', () => {
    const c = caps({ add_capabilities: ['NET_ADMIN', 'sys_time'], drop_capabilities: ['CHOWN', 'CAP_KILL'] });
    expect(c.bounding).toContain('CAP_NET_ADMIN');
    expect(c.bounding).toContain('CAP_SYS_TIME');
    expect(c.bounding).not.toContain('CAP_CHOWN');
    expect(c.bounding).not.toContain('CAP_KILL');
    expect(c.effective).toEqual(c.bounding);
  });
  it('ALL', () => {
    expect(caps({ add_capabilities: ['ALL'], drop_capabilities: ['CHOWN'] }).bounding).toEqual(ALL.filter((x) => x !== 'CAP_CHOWN'));
    expect(caps({ drop_capabilities: ['ALL'], add_capabilities: ['NET_RAW'] }).bounding).toEqual(['CAP_NET_RAW']);
    expect(caps({ drop_capabilities: ['all'] }).bounding).toEqual([]);
  });
  it('ambient', () => {
    const c = caps({ drop_capabilities: ['ALL'], add_ambient_capabilities: ['NET_BIND_SERVICE'] });
    expect(c.ambient).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(c.inheritable).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(c.permitted).toEqual(['CAP_NET_BIND_SERVICE']);
  });
  it('capabilities the node lacks are left out; ALL means what we have', () => {
    const partial = ALL.filter((c) => c !== 'CAP_SYS_RESOURCE');
    const c = build(containerConfig({ command: ['x'] }, { capabilities: { add_capabilities: ['SYS_RESOURCE', 'SYS_ADMIN'], drop_capabilities: [], add_ambient_capabilities: ['SYS_RESOURCE'] } }), { allCapabilities: partial }).process.capabilities!;
    expect(c.bounding).toContain('CAP_SYS_ADMIN');
    expect(c.bounding).not.toContain('CAP_SYS_RESOURCE');
    expect(c.ambient).toEqual([]);
    const dir = mkdtempSync(join(tmpdir(), 'bulkhead-caps-'));
    writeFileSync(join(dir, 'last'), '40\n');
    writeFileSync(join(dir, 'status'), 'Name:\tx\nCapBnd:\t000001fffeffffff\n');
    const all = allKernelCapabilities(join(dir, 'last'), join(dir, 'status'));
    expect(all).toHaveLength(40);
    expect(all).not.toContain('CAP_SYS_RESOURCE');
    expect(all.at(-1)).toBe('CAP_CHECKPOINT_RESTORE');
    rmSync(dir, { recursive: true });
  });
  it('unknown capability is InvalidArgument', () => {
    expect(() => caps({ add_capabilities: ['FLY'] })).toThrow(/unknown capability/);
  });
  it('privileged = every capability; privileged container needs a privileged sandbox', () => {
    expect(caps({}, true).bounding).toEqual(ALL);
    expect(() => build(containerConfig({ command: ['x'] }, { privileged: true }))).toThrow(/privileged/);
  });
});

describe('privileged', () => {
  const priv = () =>
    build(containerConfig({ command: ['x'] }, { privileged: true, seccomp: { profile_type: 'RuntimeDefault', localhost_ref: '' }, masked_paths: ['/proc/kcore'] }), {
      sandbox: sandbox({}, { linux: { cgroup_parent: '', security_context: { privileged: true } as cri.LinuxSandboxSecurityContext__Output, sysctls: {}, overhead: null, resources: null } }),
      devRoot: join(tmp, 'dev'),
    });
  it('no masks, no seccomp, rw sysfs and cgroupfs, all devices allowed', () => {
    const s = priv();
    expect(s.linux.maskedPaths).toEqual([]);
    expect(s.linux.readonlyPaths).toEqual([]);
    expect(s.linux.seccomp).toBeUndefined();
    expect(s.mounts.find((x) => x.destination === '/sys')?.options).toContain('rw');
    expect(s.mounts.find((x) => x.destination === '/sys/fs/cgroup')?.options).toContain('rw');
    expect(s.linux.resources?.devices).toEqual([{ allow: true, access: 'rwm' }]);
  });
  it('host devices from /dev', () => {
    const s = build(containerConfig({ command: ['x'] }, { privileged: true }), {
      sandbox: sandbox({}, { linux: { cgroup_parent: '', security_context: { privileged: true } as cri.LinuxSandboxSecurityContext__Output, sysctls: {}, overhead: null, resources: null } }),
    });
    expect(s.linux.devices?.find((d) => d.path === '/dev/null')).toMatchObject({ type: 'c', major: 1, minor: 3 });
    expect(s.linux.devices?.some((d) => d.path.startsWith('/dev/pts/'))).toBe(false);
  });
});

describe('masked paths from CRI', () => {
  it('CRI lists override the defaults', () => {
    const s = build(containerConfig({ command: ['x'] }, { masked_paths: ['/proc/foo'], readonly_paths: ['/proc/bar'] }));
    expect(s.linux.maskedPaths).toEqual(['/proc/foo']);
    expect(s.linux.readonlyPaths).toEqual(['/proc/bar']);
  });
});

describe('seccomp', () => {
  const sec = (sc: Partial<cri.LinuxContainerSecurityContext__Output>, over: Partial<ContainerSpecInput> = {}) => build(containerConfig({ command: ['x'] }, sc), over).linux.seccomp;
  it('RuntimeDefault', () => {
    const s = sec({ seccomp: { profile_type: 'RuntimeDefault', localhost_ref: '' } })!;
    expect(s.defaultAction).toBe('SCMP_ACT_ERRNO');
    const allowed = s.syscalls!.filter((x) => x.action === 'SCMP_ACT_ALLOW' && !x.args).flatMap((x) => x.names);
    expect(allowed).toContain('read');
    expect(allowed).toContain('write');
    expect(allowed).not.toContain('mount');
    expect(allowed).not.toContain('reboot');
    expect(s.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    expect(s.syscalls!.find((x) => x.names.includes('clone3'))).toMatchObject({ action: 'SCMP_ACT_ERRNO', errnoRet: 38 });
  });
  it('capability-conditional syscalls follow the bounding set', () => {
    const s = sec({ seccomp: { profile_type: 'RuntimeDefault', localhost_ref: '' }, capabilities: { add_capabilities: ['SYS_ADMIN'], drop_capabilities: [], add_ambient_capabilities: [] } })!;
    const allowed = s.syscalls!.filter((x) => x.action === 'SCMP_ACT_ALLOW' && !x.args).flatMap((x) => x.names);
    expect(allowed).toContain('mount');
    expect(allowed).toContain('clone3');
    expect(s.syscalls!.some((x) => x.names.includes('clone') && x.args)).toBe(false);
  });
  it('deprecated path strings', () => {
    expect(sec({ seccomp_profile_path: 'runtime/default' })?.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(sec({ seccomp_profile_path: 'docker/default' })?.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(sec({ seccomp_profile_path: 'unconfined' })).toBeUndefined();
    expect(() => sec({ seccomp_profile_path: 'bogus' })).toThrow(/unsupported/);
  });
  it('Unconfined', () => {
    expect(sec({ seccomp: { profile_type: 'Unconfined', localhost_ref: '' } })).toBeUndefined();
  });
  it('Localhost profile loaded (OCI and Docker formats), missing file is InvalidArgument', () => {
    const oci = join(tmp, 'oci.json');
    writeFileSync(oci, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['chmod'], action: 'SCMP_ACT_ERRNO' }] }));
    expect(sec({ seccomp: { profile_type: 'Localhost', localhost_ref: oci } })).toEqual({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['chmod'], action: 'SCMP_ACT_ERRNO' }] });
    expect(sec({ seccomp_profile_path: `localhost/${oci}` })?.defaultAction).toBe('SCMP_ACT_ALLOW');
    const docker = join(tmp, 'docker.json');
    writeFileSync(
      docker,
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ERRNO',
        archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] }],
        syscalls: [
          { names: ['read'], action: 'SCMP_ACT_ALLOW' },
          { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
        ],
      }),
    );
    expect(sec({ seccomp: { profile_type: 'Localhost', localhost_ref: docker } })).toEqual({
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
      syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }],
    });
    expect(sec({ seccomp: { profile_type: 'Localhost', localhost_ref: 'oci.json' } }, { seccompProfileRoot: tmp })?.defaultAction).toBe('SCMP_ACT_ALLOW');
    expect(() => sec({ seccomp: { profile_type: 'Localhost', localhost_ref: join(tmp, 'missing.json') } })).toThrow(/cannot read seccomp profile/);
    expect(() => sec({ seccomp: { profile_type: 'Localhost', localhost_ref: 'rel.json' } })).toThrow(/absolute/);
  });
});

describe('CRI mounts', () => {
  const mounts = (list: cri.Mount__Output[], sc: Partial<cri.LinuxContainerSecurityContext__Output> = {}) => build(containerConfig({ command: ['x'], mounts: list }, sc));
  it('bind with propagation and readonly, symlinked source resolved', () => {
    const s = mounts([
      criMount({ container_path: '/data', host_path: join(tmp, 'vol-link'), readonly: true }),
      criMount({ container_path: '/shared', host_path: join(tmp, 'shared'), propagation: 'PROPAGATION_BIDIRECTIONAL' }),
      criMount({ container_path: '/data/rro', host_path: join(tmp, 'vol'), readonly: true, recursive_read_only: true }),
    ]);
    expect(s.mounts.find((m) => m.destination === '/data')).toEqual({ destination: '/data', type: 'bind', source: join(tmp, 'vol'), options: ['rbind', 'rprivate', 'ro'] });
    expect(s.mounts.find((m) => m.destination === '/shared')?.options).toEqual(['rbind', 'rshared', 'rw']);
    expect(s.mounts.find((m) => m.destination === '/data/rro')?.options).toEqual(['rbind', 'rprivate', 'ro', 'rro']);
    expect(s.linux.rootfsPropagation).toBe('rshared');
  });
  it('HOST_TO_CONTAINER → rslave; refused on a private host mount', () => {
    const s = mounts([criMount({ container_path: '/shared', host_path: join(tmp, 'shared'), propagation: 'PROPAGATION_HOST_TO_CONTAINER' })]);
    expect(s.mounts.find((m) => m.destination === '/shared')?.options).toEqual(['rbind', 'rslave', 'rw']);
    expect(s.linux.rootfsPropagation).toBe('rslave');
    expect(() => mounts([criMount({ container_path: '/v', host_path: join(tmp, 'vol'), propagation: 'PROPAGATION_HOST_TO_CONTAINER' })])).toThrow(/not a shared or slave/);
    expect(() => mounts([criMount({ container_path: '/v', host_path: join(tmp, 'vol'), propagation: 'PROPAGATION_BIDIRECTIONAL' })])).toThrow(/not a shared mount/);
  });
  it('recursive_read_only needs readonly', () => {
    expect(() => mounts([criMount({ container_path: '/v', host_path: join(tmp, 'vol'), recursive_read_only: true })])).toThrow(/must also be readonly/);
  });
  it('CRI mount replaces sandbox files; readonly rootfs makes sandbox files ro; image mounts skipped', () => {
    const s = mounts(
      [
        criMount({ container_path: '/etc/hosts', host_path: join(tmp, 'vol') }),
        criMount({ container_path: '/img', image: { image: 'sha256:abc', annotations: {}, user_specified_image: '', runtime_handler: '', image_ref: '' } }),
      ],
      { readonly_rootfs: true },
    );
    expect(s.mounts.filter((m) => m.destination === '/etc/hosts')).toEqual([{ destination: '/etc/hosts', type: 'bind', source: join(tmp, 'vol'), options: ['rbind', 'rprivate', 'rw'] }]);
    expect(s.mounts.find((m) => m.destination === '/etc/resolv.conf')?.options).toContain('ro');
    expect(s.mounts.some((m) => m.destination === '/img')).toBe(false);
    expect(s.root.readonly).toBe(true);
  });
  it('missing host path is created; relative paths refused', () => {
    const p = join(tmp, 'new/dir');
    expect(mounts([criMount({ container_path: '/n', host_path: p })]).mounts.find((m) => m.destination === '/n')?.source).toBe(p);
    expect(() => mounts([criMount({ container_path: 'rel', host_path: p })])).toThrow(/absolute/);
  });
});

describe('resources', () => {
  const res = (r: Partial<cri.LinuxContainerResources__Output>, over: Partial<ContainerSpecInput> = {}) => {
    const c = containerConfig({ command: ['x'] });
    c.linux!.resources = resources(r);
    return build(c, over);
  };
  it('cpu, cpuset, memory (swap = limit), hugepages', () => {
    const s = res({ cpu_shares: '512', cpu_quota: '50000', cpu_period: '100000', cpuset_cpus: '0', cpuset_mems: '0', memory_limit_in_bytes: '67108864', hugepage_limits: [{ page_size: '2MB', limit: '0' }] });
    expect(s.linux.resources).toMatchObject({
      cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0', mems: '0' },
      memory: { limit: 67108864, swap: 67108864 },
      hugepageLimits: [{ pageSize: '2MB', limit: 0 }],
    });
  });
  it('hugepage limits dropped without a hugetlb controller', () => {
    expect(res({ hugepage_limits: [{ page_size: '2MB', limit: '0' }] }, { hugetlbAvailable: false }).linux.resources?.hugepageLimits).toBeUndefined();
  });
  it('unified only on v2, with a cgroup namespace', () => {
    expect(res({ unified: { 'memory.high': '1000000' } }).linux.resources?.unified).toBeUndefined();
    const v2 = res({ unified: { 'memory.high': '1000000' } }, { cgroupMode: 'v2' });
    expect(v2.linux.resources?.unified).toEqual({ 'memory.high': '1000000' });
    expect(v2.linux.namespaces.some((n) => n.type === 'cgroup')).toBe(true);
  });
  it('oom_score_adj clamped to the host minimum', () => {
    expect(res({ oom_score_adj: '-997' }, { hostOomScoreAdjMin: 0 }).process.oomScoreAdj).toBe(0);
    expect(res({ oom_score_adj: '-997' }, { hostOomScoreAdjMin: -1000 }).process.oomScoreAdj).toBe(-997);
    expect(res({ oom_score_adj: '1000' }).process.oomScoreAdj).toBe(1000);
  });
});

describe('devices', () => {
  it('a CRI device node gives a linux.devices entry and an allow rule', () => {
    const s = build(containerConfig({ command: ['x'], devices: [{ host_path: '/dev/null', container_path: '/dev/mynull', permissions: 'rw' }] }));
    expect(s.linux.devices).toEqual([expect.objectContaining({ type: 'c', path: '/dev/mynull', major: 1, minor: 3 })]);
    expect(s.linux.resources?.devices).toEqual([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }]);
  });
  it('bad devices are InvalidArgument', () => {
    expect(() => build(containerConfig({ command: ['x'], devices: [{ host_path: '/nonexistent', container_path: '/dev/x', permissions: 'rwm' }] }))).toThrow(/device/);
    expect(() => build(containerConfig({ command: ['x'], devices: [{ host_path: '/dev/null', container_path: '/dev/x', permissions: 'rwx' }] }))).toThrow(/permissions/);
  });
});

describe('namespaces', () => {
  const ns = (pid: cri.NamespaceMode__Output, over: Partial<ContainerSpecInput> = {}) =>
    build(containerConfig({ command: ['x'] }, { namespace_options: { network: 'POD', pid, ipc: 'POD', target_id: 'other', userns_options: null } }), over).linux.namespaces.find((n) => n.type === 'pid');
  it('pid modes', () => {
    expect(ns('NODE')).toBeUndefined();
    expect(ns('POD')).toEqual({ type: 'pid', path: '/proc/42/ns/pid' });
    expect(ns('CONTAINER')).toEqual({ type: 'pid' });
    expect(ns('TARGET', { targetPid: 99 })).toEqual({ type: 'pid', path: '/proc/99/ns/pid' });
    expect(() => ns('TARGET')).toThrow(/not running/);
  });
  it('user namespaces: NODE ok, POD without mappings refused', () => {
    const cfg = (mode: cri.NamespaceMode__Output) => containerConfig({ command: ['x'] }, { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD', target_id: '', userns_options: { mode, uids: [], gids: [] } } });
    expect(() => build(cfg('NODE'))).not.toThrow();
    expect(() => build(cfg('POD'))).toThrow(/exactly one uid mapping, got 0/);
  });
});

describe('pod user namespace (hostUsers: false)', () => {
  const MAP = [{ container_id: 0, host_id: 165536, length: 65536 }];
  const nsOpts: cri.NamespaceOption__Output = { network: 'POD', pid: 'POD', ipc: 'POD', target_id: '', userns_options: { mode: 'POD', uids: MAP, gids: MAP } };
  const usernsPod = (over: Partial<SandboxSpecInfo> = { usernsPath: '/run/pods/sb1/ns/user' }) =>
    sandbox(over, { linux: { cgroup_parent: '', security_context: { privileged: false, namespace_options: nsOpts } as cri.LinuxSandboxSecurityContext__Output, sysctls: {}, overhead: null, resources: null } });
  const ctr = (mounts: cri.Mount__Output[] = []) => containerConfig({ command: ['x'], mounts }, { namespace_options: nsOpts });
  const MAPPING = [{ containerID: 0, hostID: 165536, size: 65536 }];

  it('joins the pinned user namespace with the mappings runc checks it against', () => {
    const s = build(ctr(), { sandbox: usernsPod() });
    expect(s.linux.namespaces[0]).toEqual({ type: 'user', path: '/run/pods/sb1/ns/user' });
    expect(s.linux.namespaces.filter((n) => n.type === 'user')).toHaveLength(1);
    expect(s.linux.uidMappings).toEqual(MAPPING);
    expect(s.linux.gidMappings).toEqual(MAPPING);
    // Ids inside stay the container's: the process is root of the pod, not host uid 165536.
    expect(s.process.user).toMatchObject({ uid: 0, gid: 0 });
  });

  it('idmaps CRI volumes with the pod mapping, not the pod files or default mounts', () => {
    const s = build(ctr([criMount({ container_path: '/data', host_path: join(tmp, 'vol') })]), { sandbox: usernsPod() });
    const vol = s.mounts.find((m) => m.destination === '/data');
    expect(vol).toMatchObject({ type: 'bind', uidMappings: MAPPING, gidMappings: MAPPING });
    for (const m of s.mounts.filter((x) => x.destination !== '/data')) expect(m.uidMappings, m.destination).toBeUndefined();
  });

  it('no user namespace: no mappings anywhere', () => {
    const s = build(containerConfig({ command: ['x'], mounts: [criMount({ container_path: '/data', host_path: join(tmp, 'vol') })] }));
    expect(s.linux.namespaces.find((n) => n.type === 'user')).toBeUndefined();
    expect(s.linux.uidMappings).toBeUndefined();
    expect(s.mounts.find((m) => m.destination === '/data')?.uidMappings).toBeUndefined();
  });

  it('a pod without its pinned namespace, or a container asking for another mapping, is refused', () => {
    expect(() => build(ctr(), { sandbox: usernsPod({}) })).toThrow(/has none pinned/);
    const other = { ...nsOpts, userns_options: { mode: 'POD' as const, uids: [{ container_id: 0, host_id: 231072, length: 65536 }], gids: MAP } };
    expect(() => build(containerConfig({ command: ['x'] }, { namespace_options: other }), { sandbox: usernsPod() })).toThrow(/differ from its pod's/);
  });

  it("the infra's PID namespace belongs to the pod's user namespace", () => {
    const s = buildInfraSpec({ sandbox: usernsPod(), rootfsPath: '/r', args: ['/catatonit', '-P'], cgroupsPath: '/kubepods/pod1/infra', hostOomScoreAdjMin: 0, cgroupMode: 'v1' });
    expect(s.linux.namespaces.slice(0, 2)).toEqual([{ type: 'user', path: '/run/pods/sb1/ns/user' }, { type: 'pid' }]);
    expect(s.linux.uidMappings).toEqual(MAPPING);
  });
});

describe('infra spec', () => {
  it('new pid ns, joins the pod namespaces, no caps, read-only root', () => {
    const s = buildInfraSpec({ sandbox: sandbox(), rootfsPath: '/r', args: ['/catatonit', '-P'], cgroupsPath: '/kubepods/pod1/infra', hostOomScoreAdjMin: 0, cgroupMode: 'v1' });
    expect(s.linux.namespaces[0]).toEqual({ type: 'pid' });
    expect(s.linux.namespaces).toContainEqual({ type: 'network', path: '/run/netns/x' });
    expect(s.process.capabilities?.bounding).toEqual([]);
    expect(s.process.oomScoreAdj).toBe(0);
    expect(s.root).toEqual({ path: '/r', readonly: true });
    expect(s.annotations?.['io.kubernetes.cri.container-type']).toBe('sandbox');
  });
});
