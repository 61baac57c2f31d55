// A micro-VM pod whose pod cgroup cannot hold its VM (pkg/runtime/vm/vm-fit.ts): the upstream
// conformance case (a 64Mi memory limit, no RuntimeClass overhead) gets FAILED_PRECONDITION naming
// the figures instead of a VM the host OOM-kills at start, and leaves nothing behind (no QEMU, no
// netns, no pod state, no VM cgroup). The same pod in a cgroup grown by the overhead the message
// asks for boots, and survives a container touching nearly all its limit.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownDaemon, VM_HANDLERS_TOML, teardownPodDaemon, type OwnDaemon } from './lib/own-daemon.js';
import { criClient, grpcCode, type CriClient } from './lib/cri-grpc.js';
import { cgroupDirs, controllerDir } from '../pkg/cgroups/paths.js';
import { detectCgroupMode, isV2 } from '../pkg/cgroups/detect.js';

const IMAGE = 'docker.io/library/busybox:latest';
const isRoot = process.getuid?.() === 0;
const vmEnabled = process.env.BULKHEAD_RELIABILITY_VM !== '0';
const MiB = 1 << 20;
const FAILED_PRECONDITION = 9;
const LIMIT = 64 * MiB;

describe.skipIf(!isRoot || !vmEnabled)('micro-VM pod against its pod cgroup\'s memory limit', () => {
  let d: OwnDaemon;
  let cri: CriClient;
  let pod = '';
  // What kubelet makes with the cgroupfs driver: a pod cgroup under a parent of its own.
  const parent = `/bhfit-${randomBytes(3).toString('hex')}`;
  const podCg = `${parent}/pod-a`;
  const v2 = isV2(detectCgroupMode());
  const memDir = controllerDir(podCg, 'memory')!;
  const setLimit = (bytes: number) => writeFileSync(join(memDir, v2 ? 'memory.max' : 'memory.limit_in_bytes'), String(bytes));
  const qemus = () => execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith('qemu-system') && l.includes(d.state));
  const cfg = (attempt: number) => ({
    metadata: { name: 'fit', namespace: 'fit', uid: 'fit-uid', attempt },
    log_directory: join(d.logDir, 'fit'),
    linux: { cgroup_parent: podCg, resources: { memory_limit_in_bytes: LIMIT } },
  });

  beforeAll(async () => {
    d = ownDaemon('vm-fit', { extraToml: VM_HANDLERS_TOML });
    await d.start();
    await d.crictl('pull', IMAGE);
    cri = criClient(d.sock);
    if (v2) {
      mkdirSync(join('/sys/fs/cgroup', parent));
      writeFileSync(join('/sys/fs/cgroup', parent, 'cgroup.subtree_control'), '+memory');
    }
    for (const dir of cgroupDirs(podCg)) mkdirSync(dir, { recursive: true });
    setLimit(LIMIT); // kubelet's: the containers' 64Mi + RuntimeClass overhead 0
  }, 300_000);
  afterAll(async () => {
    await teardownPodDaemon(cri, pod, d);
    for (const cg of [`${podCg}/vm`, podCg, parent]) for (const dir of cgroupDirs(cg)) if (existsSync(dir)) rmdirSync(dir);
  });

  let askedMib = 0;

  it('refuses with FAILED_PRECONDITION naming the limit, the VM\'s need and the overhead to set, and leaves nothing', async () => {
    const e = await cri.call('RunPodSandbox', { config: cfg(0), runtime_handler: 'microvm' }, 180_000).then(() => undefined, (x: unknown) => x);
    expect(e, 'RunPodSandbox must fail').toBeDefined();
    expect(grpcCode(e)).toBe(FAILED_PRECONDITION);
    const details = (e as { details: string }).details;
    console.log(`refusal: ${details}`);
    // VM_HANDLERS_TOML: memory_mib 256 → guest 256 + 64 MiB; the VMM's share: 48 MiB + TCG's 64 MiB tb cache.
    expect(details).toMatch(/memory limit of 64 MiB \(containers' limits 64 MiB, RuntimeClass overhead 0 MiB per the CRI request\), but the pod's micro-VM needs \d+ MiB \(320 MiB guest RAM \+ \d+ MiB for QEMU and virtiofsd\)/);
    askedMib = Number(/overhead\.podFixed\.memory to at least (\d+)Mi/.exec(details)![1]);
    expect(askedMib).toBeGreaterThanOrEqual(256 + 48);
    // Nothing left: no pod, no QEMU, no pod state dir or netns, no VM cgroup under the pod's.
    expect((await cri.call<{ items: unknown[] }>('ListPodSandbox', {})).items).toHaveLength(0);
    expect(qemus()).toEqual([]);
    const pods = join(d.state, 'pods');
    expect(existsSync(pods) ? readdirSync(pods) : []).toEqual([]);
    for (const dir of cgroupDirs(`${podCg}/vm`)) expect(existsSync(dir), dir).toBe(false);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(d.state);
  }, 240_000);

  it('boots in the pod cgroup grown by the overhead asked for, and survives a container touching nearly all its limit', async () => {
    expect(askedMib).toBeGreaterThan(0);
    setLimit(LIMIT + askedMib * MiB);
    const c = { ...cfg(1), linux: { ...cfg(1).linux, overhead: { memory_limit_in_bytes: askedMib * MiB } } };
    ({ pod_sandbox_id: pod } = await cri.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: c, runtime_handler: 'microvm' }, 300_000));
    const { container_id: ctr } = await cri.call<{ container_id: string }>('CreateContainer', {
      pod_sandbox_id: pod,
      // dd's 60 MiB buffer: the container's limit is 64 MiB in the guest too.
      config: { metadata: { name: 'c', attempt: 0 }, image: { image: IMAGE }, command: ['sh', '-c', 'dd if=/dev/zero of=/dev/null bs=60M count=3 && echo touched; sleep 3600'], log_path: 'c.log', linux: { resources: { memory_limit_in_bytes: LIMIT } } },
      sandbox_config: c,
    }, 180_000);
    await cri.call('StartContainer', { container_id: ctr }, 180_000);
    await new Promise((r) => setTimeout(r, 15_000));
    const st = await cri.call<{ status: { state: string } }>('PodSandboxStatus', { pod_sandbox_id: pod });
    expect(st.status.state).toBe('SANDBOX_READY');
    const cs = await cri.call<{ status: { state: string } }>('ContainerStatus', { container_id: ctr });
    expect(cs.status.state).toBe('CONTAINER_RUNNING');
    const rd = (f: string) => readFileSync(join(memDir, f), 'utf8').trim();
    const peak = v2 ? (existsSync(join(memDir, 'memory.peak')) ? rd('memory.peak') : rd('memory.current')) : rd('memory.max_usage_in_bytes');
    const oom = v2 ? /oom_kill (\d+)/.exec(rd('memory.events'))?.[1] : /oom_kill (\d+)/.exec(rd('memory.oom_control'))?.[1];
    console.log(`pod cgroup limit ${(LIMIT / MiB) + askedMib} MiB, peak usage ${(Number(peak) / MiB).toFixed(1)} MiB, oom_kill ${oom ?? '?'}`);
    expect(Number(peak)).toBeLessThanOrEqual(LIMIT + askedMib * MiB);
    if (oom !== undefined) expect(oom).toBe('0');
    expect(qemus()).toHaveLength(1);
  }, 420_000);
});
