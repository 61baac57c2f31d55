// UpdateContainerResources / RemoveContainer on a micro-VM pod with kubelet CPU-manager cpusets: the
// guest never sees host CPU numbers; the VM's vCPU threads are pinned on the host (here: a worker
// thread of this test process stands in for a QEMU vCPU thread, and this process for QEMU: only
// threads of the VM's own process are ever pinned).
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { ContainerRecord } from '../../store/records.js';
import { onlineCpus, setThreadAffinity, threadAffinity } from '../../sys/cpu-affinity.js';
import { vmTasksWithPod } from '../../../test/fakes/vm-tasks.js';
import type { VmTaskRuntime } from './vm-task-runtime.js';

const log = pino({ level: 'silent' });
let dir: string;
let rt: VmTaskRuntime;
let calls: { kind: string; req: Record<string, unknown> }[];
let before: number[];
let vcpu: Worker;
let vcpuTid: number;
const c = { id: 'c1', podId: 'p1', config: { linux: { resources: null } } } as unknown as ContainerRecord;

beforeEach(async () => {
  // The stand-in vCPU thread reports its own tid (/proc/thread-self is "<pid>/task/<tid>").
  vcpu = new Worker("const { readlinkSync } = require('node:fs'); require('node:worker_threads').parentPort.postMessage(Number(readlinkSync('/proc/thread-self').split('/').pop())); setInterval(() => {}, 1000);", { eval: true });
  vcpuTid = await new Promise<number>((resolve) => vcpu.once('message', resolve));
  before = threadAffinity(vcpuTid);
  dir = mkdtempSync(join(tmpdir(), 'bulkhead-vm-cpusets-'));
  calls = [];
  const agent = { call: async (kind: string, req: Record<string, unknown>) => (calls.push({ kind, req }), {}) };
  const qmp = { execute: async () => [{ 'cpu-index': 0, 'thread-id': vcpuTid }] };
  rt = vmTasksWithPod(dir, 'p1', { vm: { agent, qmp, pid: process.pid }, vmDir: join(dir, 'vm') }).tasks;
});

afterEach(async () => {
  setThreadAffinity(vcpuTid, before);
  await vcpu.terminate();
  rmSync(dir, { recursive: true, force: true });
});

describe('VM pod cpusets', () => {
  test('an update\'s cpuset pins the vCPU threads and is not sent to the guest; removal unpins', async () => {
    const cpu = onlineCpus().at(-1)!;
    await rt.updateResources(c, { cpu: { cpus: String(cpu), quota: 50_000, period: 100_000 } });
    expect(threadAffinity(vcpuTid)).toEqual([cpu]);
    expect(calls).toEqual([{ kind: 'update_resources', req: { container_id: 'c1', resources: expect.objectContaining({ cpuset_cpus: '', cpu_quota: '50000' }) as unknown } }]);
    await rt.removeContainer(c, log);
    expect(threadAffinity(vcpuTid)).toEqual(threadAffinity(process.pid));
  });

  test('an update of cpuset_mems alone keeps the container\'s CPUs pinned', async () => {
    const cpu = onlineCpus().at(-1)!;
    await rt.updateResources(c, { cpu: { cpus: String(cpu) } });
    await rt.updateResources(c, { cpu: { mems: '0' } });
    expect(threadAffinity(vcpuTid)).toEqual([cpu]);
  });

  test('a cpuset the host does not have is InvalidArgument and reaches neither the guest nor the threads', async () => {
    await expect(rt.updateResources(c, { cpu: { cpus: '0-4095' } })).rejects.toMatchObject({ kind: 'invalid-argument' });
    await expect(rt.updateResources(c, { cpu: { cpus: String(Math.max(...onlineCpus()) + 1) } })).rejects.toMatchObject({ kind: 'invalid-argument', message: expect.stringMatching(/not a subset of the host's/) as string });
    expect(calls).toEqual([]);
    expect(threadAffinity(vcpuTid)).toEqual(before);
  });
});
