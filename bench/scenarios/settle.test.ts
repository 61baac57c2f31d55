import { describe, expect, it } from 'vitest';
import { elementMin, minOver } from './settle.js';
import { densityPods } from './density.js';

describe('settled memory', () => {
  it('takes the minimum of each figure separately over the window', async () => {
    const seq = [
      { daemon: 70, helpers: 5 },
      { daemon: 64, helpers: 6 }, // a GC returned pages
      { daemon: 66, helpers: 4 },
    ];
    let i = 0;
    expect(await minOver(() => seq[i++]!, { samples: 3, intervalMs: 0 })).toEqual({ daemon: 64, helpers: 4 });
    expect(i).toBe(3);
    expect(elementMin({ a: 1, b: 9 }, { a: 3, b: 2 })).toEqual({ a: 1, b: 2 });
  });

  it('density: 100 pods, 20 with --quick, BENCH_DENSITY_PODS wins when it is a positive integer', () => {
    expect(densityPods(false, undefined)).toBe(100);
    expect(densityPods(true, undefined)).toBe(20);
    expect(densityPods(true, '150')).toBe(150);
    expect(densityPods(false, 'x')).toBe(100);
    expect(densityPods(false, '0')).toBe(100);
  });
});
