// Sample summaries and the result model shared by scenarios, the table and the JSON file.
import type { PeerName, RuntimeName } from './runtimes/runtime.js';

export interface Summary {
  n: number;
  median: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of sorted samples (q in 0..1). */
const nearestRank = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;

/** Median (mean of the two middle values for even n), p90 and p99 by nearest rank, max. */
export function summarize(samples: number[]): Summary | undefined {
  if (!samples.length) return undefined;
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { n: s.length, median, p90: nearestRank(s, 0.9), p99: nearestRank(s, 0.99), max: s[s.length - 1]! };
}

export interface Target {
  /** bulkhead/primary-peer ratio of medians must be <= (lower is better) or >= (higher is better). */
  op: '<=' | '>=';
  ratio: number;
}

export interface Metric {
  id: string;
  label: string;
  unit: 'ms' | 'MiB' | 'MB/s';
  samples: Partial<Record<RuntimeName, number[]>>;
  target?: Target;
  /** Which statistic the ratio columns and the target compare; default the median. Tail latency
   *  targets (issue #18: RPC p99 during a 20-pod burst) compare p99s. */
  compare?: 'median' | 'p99';
  /** Why a side has no samples, or anything the reader must know about the figure. */
  notes?: string[];
}

export function metric(id: string, label: string, unit: Metric['unit'], target?: Target, compare?: Metric['compare']): Metric {
  return { id, label, unit, samples: {}, ...(target ? { target } : {}), ...(compare && compare !== 'median' ? { compare } : {}) };
}

export function addSample(m: Metric, rt: RuntimeName, value: number): void {
  (m.samples[rt] ??= []).push(value);
}

export function note(m: Metric, text: string): void {
  (m.notes ??= []).push(text);
}

/** Bulkhead's median over the peer's median (or p99 over p99 for a metric that compares tails). */
export function ratioOf(m: Metric, peer: PeerName): number | undefined {
  const b = summarize(m.samples.bulkhead ?? []);
  const c = summarize(m.samples[peer] ?? []);
  const stat = m.compare ?? 'median';
  if (!b || !c || c[stat] === 0) return undefined;
  return b[stat] / c[stat];
}

export function targetMet(m: Metric, peer: PeerName): boolean | undefined {
  const r = ratioOf(m, peer);
  if (r === undefined || !m.target) return undefined;
  return m.target.op === '<=' ? r <= m.target.ratio : r >= m.target.ratio;
}

export const MiB = 1024 * 1024;
