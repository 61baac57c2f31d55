// pkg/cgroups against this host's real cgroupfs: create a uniquely named cgroup with a memory
// limit, put a sleep in it, read its stats, kill it and remove the cgroup everywhere.
import { describe, it, expect, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { addProcess, cgroupPids, ensureCgroup, killCgroup, removeCgroup } from '../pkg/cgroups/pod-cgroup.js';
import { cgroupDirs } from '../pkg/cgroups/paths.js';
import { detectCgroupMode } from '../pkg/cgroups/detect.js';
import { readCgroupStats, CpuRateSampler } from '../pkg/cgroups/stats.js';

const parent = `/bulkhead-test-cgroups-${randomBytes(4).toString('hex')}`;
const pod = `${parent}/pod1`;
const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('cgroups on this host', () => {
  afterAll(async () => {
    await killCgroup(parent, 'SIGKILL', { timeoutMs: 2000 });
    await removeCgroup(parent);
  });

  it('create, limit, stats, kill, remove', async () => {
    const mode = detectCgroupMode();
    expect(['v1', 'v2', 'hybrid']).toContain(mode);
    ensureCgroup(pod, { memoryLimit: 64 * 1024 * 1024, cpuShares: 512 });
    for (const d of cgroupDirs(pod)) expect(existsSync(d)).toBe(true);

    const child = spawn('sleep', ['300'], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code, sig) => resolve(sig ? -1 : code)));
    addProcess(pod, child.pid!);
    // Also a nested cgroup, as containers are under the pod.
    ensureCgroup(`${pod}/ctr`);
    const child2 = spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' });
    const exited2 = new Promise<void>((resolve) => child2.on('exit', () => resolve()));
    addProcess(`${pod}/ctr`, child2.pid!);

    expect(cgroupPids(pod)).toEqual([child.pid!, child2.pid!].sort((a, b) => a - b));
    const sampler = new CpuRateSampler();
    const s1 = readCgroupStats(pod);
    expect(s1.memory?.limitBytes).toBe(64 * 1024 * 1024);
    expect(s1.memory?.usageBytes).toBeGreaterThan(0);
    expect(s1.memory?.availableBytes).toBeLessThanOrEqual(64 * 1024 * 1024);
    expect(s1.pids?.current).toBe(2);
    expect(s1.cpu?.usageNs).toBeGreaterThanOrEqual(0n);
    sampler.observe(pod, { timestampNs: s1.timestampNs, usageNs: s1.cpu!.usageNs });
    await new Promise((r) => setTimeout(r, 300));
    const s2 = readCgroupStats(pod);
    const rate = sampler.observe(pod, { timestampNs: s2.timestampNs, usageNs: s2.cpu!.usageNs });
    // The busy loop uses (part of) a core.
    expect(rate).toBeGreaterThan(50_000_000n);
    expect(readCgroupStats(`${pod}/ctr`).cpu!.usageNs).toBeGreaterThan(0n);

    expect(await killCgroup(pod)).toBe(true);
    expect(await exited).toBe(-1);
    await exited2;
    expect(cgroupPids(pod)).toEqual([]);
    await removeCgroup(parent);
    for (const d of cgroupDirs(parent)) expect(existsSync(d)).toBe(false);
    // Removing again is fine.
    await removeCgroup(parent);
  });
});
