// ensureCgroup against fake cgroupfs trees in temp dirs (plain files stand in for the kernel's).
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, existsSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCgroup, ensurePodCgroup, sharesToWeight, cgroupPids, resourcesFromCri } from './pod-cgroup.js';
import { cgroupDirs, v1Hierarchies } from './paths.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fakeV1(): string {
  const root = mkdtempSync(join(tmpdir(), 'bulkhead-fakecg1-'));
  dirs.push(root);
  for (const c of ['cpu', 'cpuacct', 'cpuset', 'memory', 'pids', 'systemd', 'unified']) mkdirSync(join(root, c));
  writeFileSync(join(root, 'cpuset/cpuset.cpus'), '0-1\n');
  writeFileSync(join(root, 'cpuset/cpuset.mems'), '0\n');
  symlinkSync('cpu', join(root, 'cpu,cpuacct-alias'));
  return root;
}

const read = (p: string) => readFileSync(p, 'utf8').trim();

describe('ensureCgroup v1', () => {
  it('creates the path in every hierarchy, cpuset levels inherit cpus/mems, resources written', () => {
    const root = fakeV1();
    expect(v1Hierarchies(root).sort()).toEqual(['cpu', 'cpuacct', 'cpuset', 'memory', 'pids', 'systemd']);
    ensurePodCgroup('/kubepods/burstable/pod1', {
      cpu_period: '100000', cpu_quota: '50000', cpu_shares: '256', memory_limit_in_bytes: '67108864', oom_score_adj: '0',
      cpuset_cpus: '', cpuset_mems: '', hugepage_limits: [], unified: {}, memory_swap_limit_in_bytes: '0',
    }, true, { root, mode: 'v1' });
    for (const d of cgroupDirs('/kubepods/burstable/pod1', { root, mode: 'v1' })) expect(existsSync(d)).toBe(true);
    expect(read(join(root, 'cpuset/kubepods/cpuset.cpus'))).toBe('0-1');
    expect(read(join(root, 'cpuset/kubepods/burstable/pod1/cpuset.mems'))).toBe('0');
    expect(read(join(root, 'cpu/kubepods/burstable/pod1/cpu.shares'))).toBe('256');
    expect(read(join(root, 'cpu/kubepods/burstable/pod1/cpu.cfs_quota_us'))).toBe('50000');
    expect(read(join(root, 'cpu/kubepods/burstable/pod1/cpu.cfs_period_us'))).toBe('100000');
    expect(read(join(root, 'memory/kubepods/burstable/pod1/memory.limit_in_bytes'))).toBe('67108864');
    expect(existsSync(join(root, 'unified/kubepods'))).toBe(false);
  });
  it('refuses the root and ".."', () => {
    const root = fakeV1();
    expect(() => ensureCgroup('/', {}, { root, mode: 'v1' })).toThrow(/root cgroup/);
    expect(() => ensureCgroup('/a/../../etc', {}, { root, mode: 'v1' })).toThrow(/invalid cgroup path/);
  });
  it('lists pids recursively over all hierarchies', () => {
    const root = fakeV1();
    ensureCgroup('/p', {}, { root, mode: 'v1' });
    mkdirSync(join(root, 'memory/p/c1'));
    writeFileSync(join(root, 'memory/p/cgroup.procs'), '10\n');
    writeFileSync(join(root, 'memory/p/c1/cgroup.procs'), '12\n11\n');
    writeFileSync(join(root, 'pids/p/cgroup.procs'), '10\n');
    expect(cgroupPids('/p', { root, mode: 'v1' })).toEqual([10, 11, 12]);
    expect(cgroupPids('/p', { root, mode: 'v1', recursive: false })).toEqual([10]);
  });
});

describe('ensureCgroup v2', () => {
  it('enables controllers down the tree and writes weight/max', () => {
    const root = mkdtempSync(join(tmpdir(), 'bulkhead-fakecg2-'));
    dirs.push(root);
    writeFileSync(join(root, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma\n');
    writeFileSync(join(root, 'cgroup.subtree_control'), 'cpu\n');
    ensureCgroup('/kubepods/pod1', { cpuShares: 1024, cpuQuota: 20000, cpuPeriod: 100000, memoryLimit: 1 << 26, cpusetCpus: '0' }, { root, mode: 'v2' });
    expect(read(join(root, 'cgroup.subtree_control'))).toBe('+cpuset +io +memory +hugetlb +pids');
    expect(read(join(root, 'kubepods/pod1/cpu.weight'))).toBe(String(sharesToWeight(1024)));
    expect(read(join(root, 'kubepods/pod1/cpu.max'))).toBe('20000 100000');
    expect(read(join(root, 'kubepods/pod1/memory.max'))).toBe(String(1 << 26));
    expect(read(join(root, 'kubepods/pod1/cpuset.cpus'))).toBe('0');
  });
  it('shares → weight like runc', () => {
    expect(sharesToWeight(2)).toBe(1);
    expect(sharesToWeight(1024)).toBe(39);
    expect(sharesToWeight(262144)).toBe(10000);
  });
  it('CRI resources: zero means unset', () => {
    expect(resourcesFromCri(null)).toEqual({});
    expect(resourcesFromCri({ cpu_period: '0', cpu_quota: '-1', cpu_shares: '2', memory_limit_in_bytes: '0', oom_score_adj: '0', cpuset_cpus: '', cpuset_mems: '0', hugepage_limits: [], unified: {}, memory_swap_limit_in_bytes: '0' })).toEqual({ cpuQuota: -1, cpuShares: 2, cpusetMems: '0' });
  });
});

describe("kubelet's pod cgroup (cgroup_parent given) is left as kubelet sized it", () => {
  // A Burstable pod: one container limited to 64 MiB, one unlimited. kubelet sets no pod-level
  // memory limit; its sandbox resources carry the 64 MiB partial sum.
  const partialSum = {
    cpu_period: '100000', cpu_quota: '50000', cpu_shares: '256', memory_limit_in_bytes: '67108864', oom_score_adj: '0',
    cpuset_cpus: '', cpuset_mems: '', hugepage_limits: [], unified: {}, memory_swap_limit_in_bytes: '0',
  };
  it('cgroup v1', () => {
    const root = fakeV1();
    mkdirSync(join(root, 'memory/kubepods/burstable/pod2'), { recursive: true });
    mkdirSync(join(root, 'cpu/kubepods/burstable/pod2'), { recursive: true });
    writeFileSync(join(root, 'memory/kubepods/burstable/pod2/memory.limit_in_bytes'), '9223372036854771712\n');
    writeFileSync(join(root, 'cpu/kubepods/burstable/pod2/cpu.cfs_quota_us'), '-1\n');
    ensurePodCgroup('/kubepods/burstable/pod2', partialSum, false, { root, mode: 'v1' });
    for (const d of cgroupDirs('/kubepods/burstable/pod2', { root, mode: 'v1' })) expect(existsSync(d)).toBe(true);
    expect(read(join(root, 'memory/kubepods/burstable/pod2/memory.limit_in_bytes'))).toBe('9223372036854771712');
    expect(read(join(root, 'cpu/kubepods/burstable/pod2/cpu.cfs_quota_us'))).toBe('-1');
    expect(existsSync(join(root, 'cpu/kubepods/burstable/pod2/cpu.shares'))).toBe(false);
  });
  it('cgroup v2', () => {
    const root = mkdtempSync(join(tmpdir(), 'bulkhead-fakecg2-'));
    dirs.push(root);
    writeFileSync(join(root, 'cgroup.controllers'), 'cpu memory pids\n');
    writeFileSync(join(root, 'cgroup.subtree_control'), 'cpu memory pids\n');
    mkdirSync(join(root, 'kubepods/burstable/pod2'), { recursive: true });
    writeFileSync(join(root, 'kubepods/burstable/pod2/memory.max'), 'max\n');
    ensurePodCgroup('/kubepods/burstable/pod2', partialSum, false, { root, mode: 'v2' });
    expect(read(join(root, 'kubepods/burstable/pod2/memory.max'))).toBe('max');
    expect(existsSync(join(root, 'kubepods/burstable/pod2/cpu.max'))).toBe(false);
    expect(existsSync(join(root, 'kubepods/burstable/pod2/cpu.weight'))).toBe(false);
  });
});
