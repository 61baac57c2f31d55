// A micro-VM pod sized to its limits (pkg/runtime/vm/vm-size.ts): CPU limit 2 cores and memory limit
// 300 MiB boot a 2-vCPU guest with the handler's 256 MiB base + 300 MiB. Updates that fit apply in
// the guest; ones that would need a bigger VM answer FAILED_PRECONDITION (the VM cannot grow).
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownDaemon, VM_HANDLERS_TOML, teardownPodDaemon, type OwnDaemon } from './lib/own-daemon.js';
import { criClient, grpcCode, type CriClient } from './lib/cri-grpc.js';

const IMAGE = 'docker.io/library/busybox:latest';
const isRoot = process.getuid?.() === 0;
const vmEnabled = process.env.BULKHEAD_RELIABILITY_VM !== '0';
const MiB = 1 << 20;
const FAILED_PRECONDITION = 9;
/** VM_HANDLERS_TOML's memory_mib: the guest base the pod's limit is added to. */
const BASE_MIB = 256;

describe.skipIf(!isRoot || !vmEnabled)('micro-VM pod sized to its limits', () => {
  let d: OwnDaemon;
  let cri: CriClient;
  let pod = '';
  let ctr = '';
  const limits = { cpu_period: 100_000, cpu_quota: 200_000, memory_limit_in_bytes: 300 * MiB };

  beforeAll(async () => {
    d = ownDaemon('vm-size', { extraToml: VM_HANDLERS_TOML });
    await d.start();
    await d.crictl('pull', IMAGE);
    cri = criClient(d.sock);
    const cfg = { metadata: { name: 'sized', namespace: 'sized', uid: 'sized-uid', attempt: 0 }, log_directory: join(d.logDir, 'sized'), linux: { resources: limits } };
    ({ pod_sandbox_id: pod } = await cri.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: cfg, runtime_handler: 'microvm' }, 180_000));
    ({ container_id: ctr } = await cri.call<{ container_id: string }>('CreateContainer', {
      pod_sandbox_id: pod,
      config: { metadata: { name: 'c', attempt: 0 }, image: { image: IMAGE }, command: ['sleep', '3600'], log_path: 'c.log', linux: { resources: limits } },
      sandbox_config: cfg,
    }, 180_000));
    await cri.call('StartContainer', { container_id: ctr }, 180_000);
  });
  afterAll(async () => {
    await teardownPodDaemon(cri, pod, d);
  });

  const execOut = async (cmd: string[]): Promise<string> =>
    (await cri.call<{ stdout: Buffer; exit_code: number }>('ExecSync', { container_id: ctr, cmd, timeout: 60 }, 75_000)).stdout.toString();
  const rejection = async (p: Promise<unknown>): Promise<{ code?: number; details: string }> => {
    const e = await p.then(() => undefined, (x: unknown) => x);
    expect(e, 'the call must fail').toBeDefined();
    return { code: grpcCode(e), details: (e as { details?: string }).details ?? String(e) };
  };

  it('boots the guest with ceil(quota/period) vCPUs and base + limit of memory', async () => {
    expect((await execOut(['nproc'])).trim()).toBe('2');
    const memTotalKib = Number(/MemTotal:\s+(\d+) kB/.exec(await execOut(['cat', '/proc/meminfo']))![1]);
    const memMib = memTotalKib / 1024;
    console.log(`guest: nproc 2, MemTotal ${memTotalKib} kB (${memMib.toFixed(1)} MiB) of ${BASE_MIB + 300} MiB RAM`);
    // MemTotal is the RAM less what the kernel reserves at boot (its image, memmap: ~30 MiB here).
    expect(memMib).toBeLessThanOrEqual(BASE_MIB + 300);
    expect(memMib).toBeGreaterThan(BASE_MIB + 300 - 80);
  });

  it('applies an update that fits inside the guest', async () => {
    await cri.call('UpdateContainerResources', { container_id: ctr, linux: { ...limits, memory_limit_in_bytes: 200 * MiB } });
    const max = await execOut(['sh', '-c', 'cat /sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)/memory.max']);
    expect(max.trim()).toBe(String(200 * MiB));
  });

  it('refuses a container update that needs a bigger VM with FAILED_PRECONDITION', async () => {
    const mem = await rejection(cri.call('UpdateContainerResources', { container_id: ctr, linux: { ...limits, memory_limit_in_bytes: 400 * MiB } }));
    expect(mem.code).toBe(FAILED_PRECONDITION);
    expect(mem.details).toMatch(/656 MiB of guest memory .* but the VM has 556 MiB/);
    // 3 cores: a bigger VM only where the host has more than 2 CPUs (vCPUs are capped at the host's).
    const cpuUpdate = cri.call('UpdateContainerResources', { container_id: ctr, linux: { ...limits, memory_limit_in_bytes: 200 * MiB, cpu_quota: 300_000 } });
    if (availableParallelism() > 2) {
      const cpu = await rejection(cpuUpdate);
      expect(cpu.code).toBe(FAILED_PRECONDITION);
      expect(cpu.details).toMatch(/3 vCPUs .* but the VM has 2/);
    } else {
      await cpuUpdate;
    }
    // The refused update left the guest's limit alone.
    const max = await execOut(['sh', '-c', 'cat /sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)/memory.max']);
    expect(max.trim()).toBe(String(200 * MiB));
  });

  it('PodSandboxStats reports what the VM costs the node: the guest containers plus QEMU and virtiofsd', async () => {
    type Val = { value: string } | null;
    type Stats = { linux: { cpu: { usage_core_nano_seconds: Val }; memory: { working_set_bytes: Val }; process: { process_count: Val }; containers: { cpu: { usage_core_nano_seconds: Val }; memory: { working_set_bytes: Val } }[] } };
    const n = (v: Val): number => Number(v?.value ?? 0);
    const { stats } = await cri.call<{ stats: Stats }>('PodSandboxStats', { pod_sandbox_id: pod });
    const ctrMem = stats.linux.containers.reduce((a, c) => a + n(c.memory.working_set_bytes), 0);
    const ctrCpu = stats.linux.containers.reduce((a, c) => a + n(c.cpu.usage_core_nano_seconds), 0);
    const podMem = n(stats.linux.memory.working_set_bytes);
    const podCpu = n(stats.linux.cpu.usage_core_nano_seconds);
    console.log(`pod stats: working set ${(podMem / MiB).toFixed(1)} MiB (containers ${(ctrMem / MiB).toFixed(1)} MiB), cpu ${(podCpu / 1e9).toFixed(1)} s (containers ${(ctrCpu / 1e9).toFixed(2)} s), host processes ${n(stats.linux.process.process_count)}`);
    expect(stats.linux.containers).toHaveLength(1);
    // QEMU's PSS holds the guest kernel, agent and TCG cache besides the containers: tens of MiB more.
    expect(podMem).toBeGreaterThan(ctrMem + 32 * MiB);
    // The boot alone (seconds of emulated CPU) exceeds what the sleeping container used.
    expect(podCpu).toBeGreaterThan(ctrCpu + 1e9);
    // QEMU + virtiofsd (+ its sandbox worker): host processes, not the guest's.
    expect(n(stats.linux.process.process_count)).toBeGreaterThanOrEqual(2);
    const list = await cri.call<{ stats: Stats[] }>('ListPodSandboxStats', { filter: { id: pod } });
    expect(list.stats).toHaveLength(1);
    expect(n(list.stats[0]!.linux.memory.working_set_bytes)).toBeGreaterThan(ctrMem + 32 * MiB);
  });

  it('refuses a pod-level update that needs a bigger VM, takes one that fits', async () => {
    const r = await rejection(cri.call('UpdatePodSandboxResources', { pod_sandbox_id: pod, resources: { ...limits, memory_limit_in_bytes: 500 * MiB } }));
    expect(r.code).toBe(FAILED_PRECONDITION);
    expect(r.details).toMatch(/UpdatePodSandboxResources of pod .* 756 MiB .* the VM has 556 MiB/);
    await cri.call('UpdatePodSandboxResources', { pod_sandbox_id: pod, resources: { ...limits, memory_limit_in_bytes: 250 * MiB } });
    // Not written into the pod cgroup, which holds QEMU (its 556 MiB guest would be OOM-killed there).
    const vmDir = join(d.state, 'pods', pod, 'vm');
    const qemu = Number(readFileSync(join(vmDir, 'qemu.pid'), 'utf8'));
    const lines = readFileSync(`/proc/${qemu}/cgroup`, 'utf8').trim().split('\n');
    const v1 = lines.find((x) => /^\d+:memory:/.test(x));
    const podCg = (v1 ?? lines.find((x) => x.startsWith('0::'))!).replace(/^\d+:[^:]*:/, '').replace(/\/vm$/, '');
    const limitFile = v1 ? `/sys/fs/cgroup/memory${podCg}/memory.limit_in_bytes` : `/sys/fs/cgroup${podCg}/memory.max`;
    const limit = readFileSync(limitFile, 'utf8').trim();
    expect(limit === 'max' || Number(limit) > 2 ** 62).toBe(true);
    expect((await execOut(['echo', 'alive'])).trim()).toBe('alive');
  });
});
