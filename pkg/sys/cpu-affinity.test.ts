import { describe, expect, it } from 'vitest';
import { formatCpuList, onlineCpus, parseCpuList, setThreadAffinity, threadAffinity } from './cpu-affinity.js';

describe('CPU lists', () => {
  it('parses ranges and singles, sorted and distinct', () => {
    expect(parseCpuList('0-2,5,3')).toEqual([0, 1, 2, 3, 5]);
    expect(parseCpuList(' 1 , 1-2 \n')).toEqual([1, 2]);
    expect(parseCpuList('')).toEqual([]);
  });
  it('refuses what is not a CPU list', () => {
    for (const bad of ['a', '3-1', '1,,2', '-1', '0-1024', '1.5']) expect(parseCpuList(bad), bad).toBeUndefined();
  });
  it('formats with ranges folded', () => {
    expect(formatCpuList([5, 0, 1, 2, 2])).toBe('0-2,5');
    expect(formatCpuList([])).toBe('');
  });
});

describe('thread affinity', () => {
  it('sets and reads back the calling thread\'s CPUs, and restores them', () => {
    const before = threadAffinity(0);
    expect(before.length).toBeGreaterThan(0);
    try {
      setThreadAffinity(0, [before[0]!]);
      expect(threadAffinity(0)).toEqual([before[0]]);
    } finally {
      setThreadAffinity(0, before);
    }
    expect(threadAffinity(0)).toEqual(before);
  });
  it('fails with the errno for CPUs the host does not have', () => {
    const beyond = Math.max(...onlineCpus()) + 1;
    expect(() => setThreadAffinity(0, [beyond])).toThrow(expect.objectContaining({ code: 'EINVAL' }) as Error);
  });
});
