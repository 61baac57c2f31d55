import { describe, expect, it } from 'vitest';
import { addSample, metric, ratioOf, summarize, targetMet } from './stats.js';
import { renderMarkdown, renderTable } from './report.js';
import { descendants, type ProcInfo } from './proc.js';

describe('summarize', () => {
  it('gives median (mean of the middle pair for even n), nearest-rank p90 and max', () => {
    expect(summarize([5, 1, 3])).toEqual({ n: 3, median: 3, p90: 5, p99: 5, max: 5 });
    expect(summarize([4, 1, 3, 2])).toEqual({ n: 4, median: 2.5, p90: 4, p99: 4, max: 4 });
    const ten = Array.from({ length: 10 }, (_, i) => i + 1);
    expect(summarize(ten)).toMatchObject({ median: 5.5, p90: 9, p99: 10, max: 10 });
    // p99 by nearest rank: the 198th of 200 samples, below the max.
    const many = Array.from({ length: 200 }, (_, i) => i + 1);
    expect(summarize(many)).toMatchObject({ p90: 180, p99: 198, max: 200 });
    expect(summarize([])).toBeUndefined();
  });
});

describe('ratios and targets', () => {
  it('compares medians, lower-is-better and higher-is-better', () => {
    const lat = metric('x', 'x', 'ms', { op: '<=', ratio: 0.5 });
    for (const v of [10, 20, 30]) addSample(lat, 'bulkhead', v);
    for (const v of [50, 40, 60]) addSample(lat, 'containerd2', v);
    expect(ratioOf(lat, 'containerd2')).toBeCloseTo(0.4);
    expect(targetMet(lat, 'containerd2')).toBe(true);
    const tput = metric('t', 't', 'MB/s', { op: '>=', ratio: 1.5 });
    addSample(tput, 'bulkhead', 10);
    addSample(tput, 'containerd2', 10);
    expect(targetMet(tput, 'containerd2')).toBe(false);
  });

  it('compares p99s for a tail-latency metric, and its cells show median / p99 / max', () => {
    const rpc = metric('rpc', 'rpc during burst', 'ms', { op: '<=', ratio: 1.0 }, 'p99');
    const b = Array.from({ length: 100 }, (_, i) => (i < 98 ? 2 : 40)); // median 2, p99 40
    const c = Array.from({ length: 100 }, (_, i) => (i < 98 ? 1 : 50)); // median 1, p99 50
    for (const v of b) addSample(rpc, 'bulkhead', v);
    for (const v of c) addSample(rpc, 'containerd2', v);
    expect(ratioOf(rpc, 'containerd2')).toBeCloseTo(0.8); // the medians alone would say 2×
    expect(targetMet(rpc, 'containerd2')).toBe(true);
    const cols = [
      { name: 'bulkhead' as const, label: 'Bulkhead' },
      { name: 'containerd2' as const, label: 'containerd 2.4.2' },
    ];
    expect(renderMarkdown([rpc], cols)).toContain('| rpc during burst | ms | 2.0 / 40.0 / 40.0 | 1.0 / 50.0 / 50.0 | 0.80× | <= 1× met |');
    expect(metric('m', 'm', 'ms', undefined, 'median')).not.toHaveProperty('compare');
  });

  it('has no ratio when a side has no samples, and the table says n/a', () => {
    const m = metric('y', 'only containerd', 'ms', { op: '<=', ratio: 0.7 });
    addSample(m, 'containerd2', 100);
    expect(ratioOf(m, 'containerd2')).toBeUndefined();
    expect(targetMet(m, 'containerd2')).toBeUndefined();
    const cols = [
      { name: 'bulkhead' as const, label: 'Bulkhead' },
      { name: 'containerd2' as const, label: 'containerd 2.4.2' },
      { name: 'crio' as const, label: 'CRI-O 1.34.0', missing: 'build failed' },
    ];
    const table = renderTable([m], cols);
    expect(table).toContain('n/a');
    expect(table).toContain('100 / 100 / 100');
    expect(table).toContain('B/containerd 2.4.2');
    expect(table).toContain('CRI-O 1.34.0: missing: build failed');
    expect(renderMarkdown([m], cols)).toContain('| only containerd | ms | n/a | 100 / 100 / 100 | missing | - | <= 0.7× |');
  });
});

describe('descendants', () => {
  it('walks the process tree from the roots, roots included', () => {
    const p = (pid: number, ppid: number): ProcInfo => ({ pid, ppid, comm: `p${pid}`, cmdline: '' });
    const procs = [p(1, 0), p(10, 1), p(11, 10), p(12, 11), p(20, 1), p(21, 20)];
    expect(descendants([10], procs).map((x) => x.pid).sort()).toEqual([10, 11, 12]);
    expect(descendants([10, 20], procs).map((x) => x.pid).sort()).toEqual([10, 11, 12, 20, 21]);
    expect(descendants([99], procs)).toEqual([]);
  });
});
