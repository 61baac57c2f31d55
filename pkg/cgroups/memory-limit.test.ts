import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cgroupMemoryLimit } from './memory-limit.js';

describe('cgroupMemoryLimit', () => {
  let root = '';
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('reads v2 memory.max; "max" is no limit', () => {
    root = mkdtempSync(join(tmpdir(), 'cg-mem-'));
    mkdirSync(join(root, 'kubepods', 'pod1'), { recursive: true });
    writeFileSync(join(root, 'kubepods', 'pod1', 'memory.max'), '67108864\n');
    expect(cgroupMemoryLimit('/kubepods/pod1', { root, mode: 'v2' })).toBe(64 << 20);
    writeFileSync(join(root, 'kubepods', 'pod1', 'memory.max'), 'max\n');
    expect(cgroupMemoryLimit('/kubepods/pod1', { root, mode: 'v2' })).toBeUndefined();
  });

  it('reads v1 memory.limit_in_bytes; the kernel\'s page-counter maximum is no limit', () => {
    root = mkdtempSync(join(tmpdir(), 'cg-mem-'));
    mkdirSync(join(root, 'memory', 'kubepods', 'pod1'), { recursive: true });
    mkdirSync(join(root, 'cpu,cpuacct'), { recursive: true });
    writeFileSync(join(root, 'memory', 'kubepods', 'pod1', 'memory.limit_in_bytes'), '402653184\n');
    expect(cgroupMemoryLimit('/kubepods/pod1', { root, mode: 'v1' })).toBe(384 << 20);
    writeFileSync(join(root, 'memory', 'kubepods', 'pod1', 'memory.limit_in_bytes'), '9223372036854771712\n');
    expect(cgroupMemoryLimit('/kubepods/pod1', { root, mode: 'v1' })).toBeUndefined();
  });

  it('a cgroup that does not exist limits nothing', () => {
    root = mkdtempSync(join(tmpdir(), 'cg-mem-'));
    expect(cgroupMemoryLimit('/kubepods/none', { root, mode: 'v2' })).toBeUndefined();
    expect(cgroupMemoryLimit('/kubepods/none', { root, mode: 'v1' })).toBeUndefined();
  });
});
