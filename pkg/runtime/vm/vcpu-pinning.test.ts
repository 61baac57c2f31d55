import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkCpusets, PodCpusets, pinVcpus, takeCpusets, unionOf } from './vcpu-pinning.js';

const host = { cpus: [0, 1, 2, 3], nodes: [0] };

describe('checkCpusets', () => {
  it('takes subsets of the host\'s CPUs and nodes, and empty lists', () => {
    expect(() => checkCpusets('c', { cpus: '0-1,3', mems: '0' }, host)).not.toThrow();
    expect(() => checkCpusets('c', { cpus: '', mems: '' }, host)).not.toThrow();
  });
  it('refuses what is not a list, or names CPUs or nodes the host lacks, as invalid-argument', () => {
    expect(() => checkCpusets('c', { cpus: 'x', mems: '' }, host)).toThrow(expect.objectContaining({ kind: 'invalid-argument', message: expect.stringMatching(/cpuset_cpus "x" is not a CPU list/) as string }) as Error);
    expect(() => checkCpusets('c', { cpus: '2-5', mems: '' }, host)).toThrow(expect.objectContaining({ kind: 'invalid-argument', message: expect.stringMatching(/cpuset_cpus 2-5 is not a subset of the host's \(0-3\): no 4-5/) as string }) as Error);
    expect(() => checkCpusets('c', { cpus: '0', mems: '1' }, host)).toThrow(/cpuset_mems 1 is not a subset/);
  });
});

describe('takeCpusets', () => {
  it('returns and removes cpus/mems from OCI resources, leaving the rest', () => {
    const r = { cpu: { cpus: '1', mems: '0', quota: 1000 } };
    expect(takeCpusets(r)).toEqual({ cpus: '1', mems: '0' });
    expect(r).toEqual({ cpu: { quota: 1000 } });
    expect(takeCpusets(undefined)).toEqual({ cpus: '', mems: '' });
  });
});

describe('PodCpusets', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  it('keeps each container\'s cpusets on disk and answers their union', () => {
    dir = mkdtempSync(join(tmpdir(), 'bulkhead-cpusets-'));
    const s = new PodCpusets(join(dir, 'pod'));
    expect(s.set('a', { cpus: '0-1', mems: '' })).toEqual([0, 1]);
    expect(s.set('b', { cpus: '3', mems: '' })).toEqual([0, 1, 3]);
    expect(new PodCpusets(join(dir, 'pod')).union()).toEqual([0, 1, 3]); // a restarted daemon's view
    expect(s.set('a', { cpus: '2', mems: '' })).toEqual([2, 3]);
    expect(s.set('b', undefined)).toEqual([2]);
    expect(s.set('a', { cpus: '', mems: '' })).toEqual([]);
    expect(unionOf([])).toEqual([]);
  });
});

describe('pinVcpus', () => {
  const qmp = (threads: number[]) => ({ execute: async (cmd: string) => (expect(cmd).toBe('query-cpus-fast'), threads.map((t, i) => ({ 'cpu-index': i, 'thread-id': t }))) });
  it('pins every vCPU thread (once each: single-threaded TCG shares one) to the union', async () => {
    const set: [number, number[]][] = [];
    const r = await pinVcpus(qmp([11, 12, 12]), 10, () => [1, 3], { set: (t, c) => void set.push([t, [...c]]), get: () => [9], isThreadOf: () => true });
    expect(set).toEqual([[11, [1, 3]], [12, [1, 3]]]);
    expect(r).toEqual({ threads: [11, 12], cpus: [1, 3] });
  });
  it('an empty union gives the threads QEMU\'s main thread\'s affinity back', async () => {
    const set: [number, number[]][] = [];
    await pinVcpus(qmp([11]), 10, () => [], { set: (t, c) => void set.push([t, [...c]]), get: (t) => (t === 10 ? [0, 1, 2, 3] : []), isThreadOf: () => true });
    expect(set).toEqual([[11, [0, 1, 2, 3]]]);
  });
  it('pins only threads of the QEMU process, and ignores a malformed answer', async () => {
    const set: number[] = [];
    const ops = { set: (t: number) => void set.push(t), get: () => [0], isThreadOf: (pid: number, tid: number) => pid === 10 && tid === 11 };
    await pinVcpus(qmp([11, 1, 4242]), 10, () => [0], ops);
    expect(set).toEqual([11]);
    const odd = { execute: async () => [{ 'thread-id': '11' }, { 'thread-id': -3 }, null, { 'thread-id': 1.5 }] };
    expect((await pinVcpus(odd, 10, () => [0], ops)).threads).toEqual([]);
    expect((await pinVcpus({ execute: async () => ({ not: 'a list' }) }, 10, () => [0], ops)).threads).toEqual([]);
  });
});
