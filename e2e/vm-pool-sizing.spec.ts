// The warm pool serves pods with limits: pool VMs boot at pool_vcpus/pool_memory_mib, and a pod whose
// own size (pkg/runtime/vm/vm-size.ts) fits takes one; its later updates are checked against the VM it
// got. The hand-over moves QEMU, virtiofsd and virtiofsd's sandbox worker into the pod's cgroup.
import { podVmDir } from '../pkg/runtime/vm/vm-state.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GUEST_CACHE, ownDaemon, teardownPodDaemon, type OwnDaemon } from './lib/own-daemon.js';
import { criClient, grpcCode, type CriClient } from './lib/cri-grpc.js';

const IMAGE = 'docker.io/library/busybox:latest';
const isRoot = process.getuid?.() === 0;
const vmEnabled = process.env.BULKHEAD_RELIABILITY_VM !== '0';
const MiB = 1 << 20;
const POOL_MIB = 640;
const HANDLERS = `
[runtime_handlers.runc]
kind = "oci"
[runtime_handlers.microvm]
kind = "vm"
memory_mib = 256
pool_size = 1
pool_vcpus = 2
pool_memory_mib = ${POOL_MIB}
guest_root = "${GUEST_CACHE}"
`;

describe.skipIf(!isRoot || !vmEnabled)('warm pool serving a pod with limits', () => {
  let d: OwnDaemon;
  let cri: CriClient;
  let pod = '';
  let ctr = '';
  // 1 core, 200 MiB: the pod's own size is 1 vCPU, 456 MiB; it fits the 2-vCPU 640 MiB pool VM.
  const limits = { cpu_period: 100_000, cpu_quota: 100_000, memory_limit_in_bytes: 200 * MiB };
  let runMs = 0;

  const poolReady = async (): Promise<number> => {
    const st = await cri.call<{ info: Record<string, string> }>('Status', { verbose: true });
    return (JSON.parse(st.info.vmHandlers ?? '{}') as Record<string, { poolReady: number }>).microvm?.poolReady ?? 0;
  };

  beforeAll(async () => {
    d = ownDaemon('vm-poolsize', { extraToml: HANDLERS });
    await d.start();
    await d.crictl('pull', IMAGE);
    cri = criClient(d.sock);
    // The pool VM boots in the background (TCG: 10-60 s on a loaded host).
    for (let i = 0; i < 900 && (await poolReady()) < 1; i++) await new Promise((r) => setTimeout(r, 200));
    expect(await poolReady()).toBe(1);
    const cfg = { metadata: { name: 'pooled', namespace: 'pooled', uid: 'pooled-uid', attempt: 0 }, log_directory: join(d.logDir, 'pooled'), linux: { resources: limits } };
    const t0 = performance.now();
    ({ pod_sandbox_id: pod } = await cri.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: cfg, runtime_handler: 'microvm' }, 180_000));
    runMs = performance.now() - t0;
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

  it('takes the pre-booted VM (the pool size, not a cold boot of its own size)', async () => {
    const memMib = Number(/MemTotal:\s+(\d+) kB/.exec(await execOut(['cat', '/proc/meminfo']))![1]) / 1024;
    const nproc = (await execOut(['nproc'])).trim();
    console.log(`RunPodSandbox ${Math.round(runMs)} ms; guest nproc ${nproc}, MemTotal ${memMib.toFixed(1)} MiB of the pool's ${POOL_MIB} MiB`);
    expect(nproc).toBe('2');
    expect(memMib).toBeGreaterThan(POOL_MIB - 80);
    expect(memMib).toBeLessThanOrEqual(POOL_MIB);
    expect(readFileSync(join(d.dir, 'bulkheadd.log'), 'utf8')).toMatch(/pod takes a pre-booted VM from the warm pool/);
  });

  it("moves the VM's host processes, virtiofsd's sandbox worker included, into the pod cgroup", async () => {
    const vmDir = podVmDir(join(d.state, 'pods', pod));
    const qemu = Number(readFileSync(join(vmDir, 'qemu.pid'), 'utf8'));
    const vfs = Number(readFileSync(join(vmDir, 'virtiofsd.pid'), 'utf8'));
    // The memory controller's cgroup (v1 "N:memory:/path" on a hybrid host, else the v2 "0::/path").
    const cgroupOf = (pid: number): string => {
      const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
      const l = lines.find((x) => /^\d+:memory:/.test(x)) ?? lines.find((x) => x.startsWith('0::'))!;
      return l.slice(l.indexOf(':', l.indexOf(':') + 1) + 1);
    };
    const worker = readFileSync(`/proc/${vfs}/task/${vfs}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    expect(worker.length).toBeGreaterThan(0);
    const podCg = cgroupOf(qemu);
    expect(podCg).toMatch(/\/vm$/);
    for (const pid of [vfs, ...worker]) expect(cgroupOf(pid)).toBe(podCg);
  });

  it('checks updates against the VM it got: 300 MiB fits 640, 400 MiB does not', async () => {
    await cri.call('UpdateContainerResources', { container_id: ctr, linux: { ...limits, memory_limit_in_bytes: 300 * MiB } });
    const e = await cri.call('UpdateContainerResources', { container_id: ctr, linux: { ...limits, memory_limit_in_bytes: 400 * MiB } }).then(() => undefined, (x: unknown) => x);
    expect(grpcCode(e)).toBe(9);
    expect((e as { details: string }).details).toMatch(/656 MiB .* the VM has 640 MiB/);
  });
});
