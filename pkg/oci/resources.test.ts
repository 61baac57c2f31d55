import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as cri from '../api/cri-types.js';
import { resourcesFromCri, type ResourceSupport } from './resources.js';
import { buildContainerSpec } from './spec-builder.js';
import type { OciResources } from './spec-types.js';
import { containerConfig, podConfig, resources } from './test-fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'bulkhead-resources-'));
mkdirSync(join(tmp, 'rootfs'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const v1: ResourceSupport = { cgroupV2: false, hugetlb: true };
const v2: ResourceSupport = { cgroupV2: true, hugetlb: true };

/** linux.resources of the spec CreateContainer writes, without the device rules (not a CRI resource). */
function atCreate(r: cri.LinuxContainerResources__Output, support: ResourceSupport): OciResources {
  const spec = buildContainerSpec({
    containerId: 'c1',
    config: containerConfig({ command: ['x'], linux: { ...containerConfig().linux!, resources: r } }),
    sandbox: { id: 'sb1', config: podConfig(), cgroupParent: '/kubepods/pod1' },
    imageConfig: {},
    rootfsPath: join(tmp, 'rootfs'),
    cgroupsPath: '/kubepods/pod1/c1',
    hostOomScoreAdjMin: -1000,
    cgroupMode: support.cgroupV2 ? 'v2' : 'v1',
    hugetlbAvailable: support.hugetlb,
    readMountInfo: () => [],
  });
  const { devices: _devices, ...rest } = spec.linux.resources ?? {};
  return rest;
}

// Each row once was converted differently by UpdateContainerResources (pkg/container/oci-resources.ts)
// than by CreateContainer: no swap = limit, unified sent to cgroup v1, empty hugepage sizes kept,
// a negative memory limit passed on to runc.
const table: [string, Partial<cri.LinuxContainerResources__Output>, ResourceSupport, OciResources | RegExp][] = [
  ['cpu and cpuset', { cpu_shares: '512', cpu_quota: '50000', cpu_period: '100000', cpuset_cpus: '0', cpuset_mems: '0' }, v1, { cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0', mems: '0' } }],
  ['quota -1 is "no limit" and passes', { cpu_quota: '-1' }, v1, { cpu: { quota: -1 } }],
  ['memory limit: swap = limit (no swap)', { memory_limit_in_bytes: '104857600' }, v1, { memory: { limit: 104857600, swap: 104857600 } }],
  ['explicit swap kept', { memory_limit_in_bytes: '104857600', memory_swap_limit_in_bytes: '209715200' }, v1, { memory: { limit: 104857600, swap: 209715200 } }],
  ['swap alone', { memory_swap_limit_in_bytes: '-1' }, v1, { memory: { swap: -1 } }],
  ['unified dropped on cgroup v1', { unified: { 'memory.high': '1000000' } }, v1, {}],
  ['unified on cgroup v2', { unified: { 'memory.high': '1000000' } }, v2, { unified: { 'memory.high': '1000000' } }],
  ['hugepages without a page size dropped', { hugepage_limits: [{ page_size: '2MB', limit: '0' }, { page_size: '', limit: '5' }] }, v1, { hugepageLimits: [{ pageSize: '2MB', limit: 0 }] }],
  ['hugepages dropped without a hugetlb controller', { hugepage_limits: [{ page_size: '2MB', limit: '0' }] }, { cgroupV2: false, hugetlb: false }, {}],
  ['all zero: nothing', {}, v2, {}],
  ['negative memory limit', { memory_limit_in_bytes: '-5' }, v1, /memory_limit_in_bytes must not be negative/],
  ['negative cpu_shares', { cpu_shares: '-2' }, v1, /cpu_shares must not be negative/],
  ['negative hugepage limit', { hugepage_limits: [{ page_size: '2MB', limit: '-1' }] }, v1, /hugepage_limits\[2MB\] must not be negative/],
  ['an int64 JSON would round', { memory_limit_in_bytes: '9223372036854775807' }, v1, /memory_limit_in_bytes "9223372036854775807" is not an integer/],
];

describe('CRI → OCI resources: one converter for create and update', () => {
  it.each(table)('%s', (_name, over, support, want) => {
    const r = resources(over);
    if (want instanceof RegExp) {
      expect(() => resourcesFromCri(r, support)).toThrow(want);
      expect(() => resourcesFromCri(r, support)).toThrow(expect.objectContaining({ kind: 'invalid-argument' })); // InvalidArgument
      expect(() => atCreate(r, support)).toThrow(want);
      return;
    }
    // UpdateContainerResources (ContainerManager.updateResources) sends resourcesFromCri's output.
    expect(resourcesFromCri(r, support)).toEqual(want);
    expect(atCreate(r, support)).toEqual(want);
  });
});
