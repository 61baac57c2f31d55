// kubelet's CPU-manager cpusets on a micro-VM pod (pkg/runtime/vm/vcpu-pinning.ts): the guest never
// sees host CPU numbers (its containers may use every vCPU), QEMU's vCPU threads are pinned on the
// host to the union of the pod's containers' cpusets (read back from /proc/<qemu>/task/<tid>/status
// Cpus_allowed_list), recomputed on create, update and remove; a cpuset the host lacks is
// INVALID_ARGUMENT. Needs a 2-CPU host at least (pins to CPU 0 and to the last CPU).
import { availableParallelism } from 'node:os';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownDaemon, VM_HANDLERS_TOML, teardownPodDaemon, type OwnDaemon } from './lib/own-daemon.js';
import { criClient, grpcCode, type CriClient } from './lib/cri-grpc.js';

const IMAGE = 'docker.io/library/busybox:latest';
const isRoot = process.getuid?.() === 0;
const vmEnabled = process.env.BULKHEAD_RELIABILITY_VM !== '0';
const INVALID_ARGUMENT = 3;
const LAST = availableParallelism() - 1;
const ALL = LAST > 0 ? `0-${LAST}` : '0';

describe.skipIf(!isRoot || !vmEnabled || LAST < 1)('micro-VM pod with CPU-manager cpusets', () => {
  let d: OwnDaemon;
  let cri: CriClient;
  let pod = '';
  let qemuPid = 0;
  const limits = { cpu_period: 100_000, cpu_quota: 200_000 }; // 2 vCPUs
  const cfg = () => ({ metadata: { name: 'pinned', namespace: 'pinned', uid: 'pinned-uid', attempt: 0 }, log_directory: join(d.logDir, 'pinned'), linux: { resources: limits } });
  const create = (name: string, cpus: string) =>
    cri.call<{ container_id: string }>('CreateContainer', {
      pod_sandbox_id: pod,
      config: { metadata: { name, attempt: 0 }, image: { image: IMAGE }, command: ['sleep', '3600'], log_path: `${name}.log`, linux: { resources: { ...limits, cpuset_cpus: cpus } } },
      sandbox_config: cfg(),
    }, 180_000);
  const allowed = (tid: number) => /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${qemuPid}/task/${tid}/status`, 'utf8'))![1];
  /** The vCPU threads the daemon pinned last, from its log. */
  const pinned = (): { threads: number[]; cpus: string } => {
    const lines = readFileSync(join(d.dir, 'bulkheadd.log'), 'utf8').split('\n').filter((l) => l.includes('pod VM vCPU threads pinned'));
    const last = JSON.parse(lines.at(-1)!) as { vcpuThreads: number[]; cpus: string };
    return { threads: last.vcpuThreads, cpus: last.cpus };
  };
  const expectPinned = (cpus: string) => {
    const p = pinned();
    expect(p.cpus).toBe(cpus);
    expect(p.threads.length).toBeGreaterThanOrEqual(1);
    expect(p.threads.length).toBeLessThanOrEqual(2);
    for (const t of p.threads) expect(allowed(t), `vCPU thread ${t}`).toBe(cpus);
    // QEMU's other threads (main loop, I/O) keep theirs.
    expect(allowed(qemuPid)).toBe(ALL);
    return p.threads;
  };

  beforeAll(async () => {
    d = ownDaemon('vm-cpuset', { extraToml: VM_HANDLERS_TOML });
    await d.start();
    await d.crictl('pull', IMAGE);
    cri = criClient(d.sock);
    ({ pod_sandbox_id: pod } = await cri.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: cfg(), runtime_handler: 'microvm' }, 300_000));
    qemuPid = Number(readFileSync(join(d.state, 'pods', pod, 'vm', 'qemu.pid'), 'utf8'));
  }, 400_000);
  afterAll(async () => {
    await teardownPodDaemon(cri, pod, d);
  });

  let a = '';
  it('CreateContainer with a cpuset pins the vCPU threads on the host; the guest container gets every vCPU', async () => {
    ({ container_id: a } = await create('a', String(LAST)));
    await cri.call('StartContainer', { container_id: a }, 180_000);
    const threads = expectPinned(String(LAST));
    console.log(`QEMU ${qemuPid}: ${readdirSync(`/proc/${qemuPid}/task`).length} threads, vCPU threads ${threads.join(',')} pinned to ${LAST}`);
    const r = await cri.call<{ stdout: Buffer }>('ExecSync', { container_id: a, cmd: ['grep', 'Cpus_allowed_list', '/proc/self/status'], timeout: 60 }, 75_000);
    expect(r.stdout.toString()).toMatch(/Cpus_allowed_list:\s*0-1\b/);
  }, 300_000);

  it('UpdateContainerResources re-pins; a second container adds its CPUs; its removal takes them away', async () => {
    await cri.call('UpdateContainerResources', { container_id: a, linux: { ...limits, cpuset_cpus: '0' } }, 60_000);
    expectPinned('0');
    const { container_id: b } = await create('b', String(LAST));
    expectPinned(ALL);
    await cri.call('RemoveContainer', { container_id: b }, 60_000);
    expectPinned('0');
  }, 300_000);

  it('a cpuset the host does not have is INVALID_ARGUMENT at create and update', async () => {
    const bad = `${LAST + 1}-${LAST + 8}`;
    const e1 = await create('bad', bad).then(() => undefined, (x: unknown) => x);
    expect(grpcCode(e1)).toBe(INVALID_ARGUMENT);
    expect((e1 as { details: string }).details).toMatch(/not a subset of the host's/);
    const e2 = await cri.call('UpdateContainerResources', { container_id: a, linux: { ...limits, cpuset_cpus: bad } }, 60_000).then(() => undefined, (x: unknown) => x);
    expect(grpcCode(e2)).toBe(INVALID_ARGUMENT);
    expectPinned('0');
  }, 300_000);

  it('removing the last pinned container gives the vCPU threads QEMU\'s own affinity back', async () => {
    await cri.call('StopContainer', { container_id: a, timeout: 0 }, 60_000);
    await cri.call('RemoveContainer', { container_id: a }, 60_000);
    expectPinned(ALL);
  }, 300_000);
});
