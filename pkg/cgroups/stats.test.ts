import { describe, it, expect } from 'vitest';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { readCgroupStats, cpuUsageNanoCores, CpuRateSampler, parseFlatKeyed } from './stats.js';
import { detectCgroupMode } from './detect.js';

const testdata = join(dirname(fileURLToPath(import.meta.url)), 'testdata');
const v1 = { root: join(testdata, 'v1'), mode: 'v1' as const };
const v2 = { root: join(testdata, 'v2'), mode: 'v2' as const };
const now = () => 1_700_000_000_000_000_000n;

describe('detectCgroupMode', () => {
  it('v2 when the root has cgroup.controllers, hybrid when only unified has, else v1', () => {
    expect(detectCgroupMode(join(testdata, 'v2'))).toBe('v2');
    expect(detectCgroupMode(join(testdata, 'v1'))).toBe('v1');
    const dir = mkdtempSync(join(tmpdir(), 'bulkhead-cgmode-'));
    mkdirSync(join(dir, 'unified'));
    writeFileSync(join(dir, 'unified/cgroup.controllers'), '');
    expect(detectCgroupMode(dir)).toBe('hybrid');
    rmSync(dir, { recursive: true });
  });
});

describe('readCgroupStats v1 (recorded on a hybrid host)', () => {
  it('cpu from cpuacct, memory from memory.stat totals, pids', () => {
    const s = readCgroupStats('/kubepods/pod1', v1, now);
    expect(s.timestampNs).toBe(now());
    expect(s.cpu).toEqual({ usageNs: 332353421n, userNs: 272000000n, systemNs: 56000000n });
    expect(s.memory).toEqual({
      usageBytes: 60534784,
      workingSetBytes: 60534784 - 20971520,
      rssBytes: 38498304,
      cacheBytes: 21098496,
      pageFaults: 22210,
      majorPageFaults: 2,
      limitBytes: 134217728,
      availableBytes: 134217728 - (60534784 - 20971520),
      oomKills: 0,
      limitHits: 0,
    });
    expect(s.pids).toEqual({ current: 1, limit: 64 });
  });
  it('the v1 "unlimited" value means no limit; missing controllers are left out', () => {
    const s = readCgroupStats('kubepods/pod2', v1, now);
    expect(s.memory?.limitBytes).toBeUndefined();
    expect(s.memory?.availableBytes).toBeUndefined();
    expect(s.cpu).toBeUndefined();
    expect(s.pids).toBeUndefined();
  });
  it('a cgroup that does not exist has no stats', () => {
    const s = readCgroupStats('/nope', v1, now);
    expect(s).toEqual({ timestampNs: now() });
  });
});

describe('readCgroupStats v2 (kernel docs format)', () => {
  it('cpu.stat in usec, memory.stat anon/file, memory.events oom_kill', () => {
    const s = readCgroupStats('/kubepods/pod1', v2, now);
    expect(s.cpu).toEqual({ usageNs: 1503211000n, userNs: 1200000000n, systemNs: 303211000n });
    expect(s.memory).toEqual({
      usageBytes: 73400320,
      workingSetBytes: 73400320 - 20971520,
      rssBytes: 41943040,
      cacheBytes: 25165824,
      pageFaults: 31337,
      majorPageFaults: 7,
      limitBytes: 268435456,
      availableBytes: 268435456 - (73400320 - 20971520),
      oomKills: 1,
      limitHits: 12,
    });
    expect(s.pids).toEqual({ current: 2, limit: 1024 });
  });
  it('memory.max "max" = unlimited; working set never negative', () => {
    const s = readCgroupStats('/kubepods/pod2', v2, now);
    expect(s.memory?.limitBytes).toBeUndefined();
    expect(s.memory?.workingSetBytes).toBe(0);
    expect(s.pids).toBeUndefined();
  });
});

describe('cpu rate', () => {
  it('nanocores between samples', () => {
    expect(cpuUsageNanoCores({ timestampNs: 0n, usageNs: 0n }, { timestampNs: 2_000_000_000n, usageNs: 1_000_000_000n })).toBe(500_000_000n);
    expect(cpuUsageNanoCores({ timestampNs: 5n, usageNs: 0n }, { timestampNs: 5n, usageNs: 10n })).toBeUndefined();
    expect(cpuUsageNanoCores({ timestampNs: 0n, usageNs: 10n }, { timestampNs: 5n, usageNs: 1n })).toBeUndefined();
  });
  it('sampler keyed by cgroup path', () => {
    const s = new CpuRateSampler();
    expect(s.observe('/a', { timestampNs: 0n, usageNs: 0n })).toBeUndefined();
    expect(s.observe('/b', { timestampNs: 0n, usageNs: 0n })).toBeUndefined();
    expect(s.observe('/a', { timestampNs: 1_000_000_000n, usageNs: 2_000_000_000n })).toBe(2_000_000_000n);
    // Too soon after: the previous rate again.
    expect(s.observe('/a', { timestampNs: 1_000_000_100n, usageNs: 2_000_000_000n })).toBe(2_000_000_000n);
    expect(s.observe('/a', { timestampNs: 2_000_000_000n, usageNs: 2_250_000_000n })).toBe(250_000_000n);
    s.forget('/a');
    expect(s.size).toBe(1);
  });
  it('parses flat keyed files', () => {
    expect(parseFlatKeyed('a 1\nb 2\n\n')).toEqual(new Map([['a', '1'], ['b', '2']]));
  });
});
