// Sample summaries and the result model shared by scenarios, the table and the JSON file.
import type { PeerName, RuntimeName } from './runtimes/runtime.js';

export interface Summary {
  n: number;
  median: number;
  p90: number;
  max: number;
}

/** Median (mean of the two middle values for even n), p90 by nearest rank, max. */
export function summarize(samples: number[]): Summary | undefined {
  if (!samples.length) return undefined;
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  const p90 = s[Math.min(s.length - 1, Math.ceil(0.9 * s.length) - 1)]!;
  return { n: s.length, median, p90, max: s[s.length - 1]! };
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
  /** Why a side has no samples, or anything the reader must know about the figure. */
  notes?: string[];
}

export function metric(id: string, label: string, unit: Metric['unit'], target?: Target): Metric {
  return { id, label, unit, samples: {}, ...(target ? { target } : {}) };
}

export function addSample(m: Metric, rt: RuntimeName, value: number): void {
  (m.samples[rt] ??= []).push(value);
}

export function note(m: Metric, text: string): void {
  (m.notes ??= []).push(text);
}

/** Bulkhead's median over the peer's median. */
export function ratioOf(m: Metric, peer: PeerName): number | undefined {
  const b = summarize(m.samples.bulkhead ?? []);
  const c = summarize(m.samples[peer] ?? []);
  if (!b || !c || c.median === 0) return undefined;
  return b.median / c.median;
}

export function targetMet(m: Metric, peer: PeerName): boolean | undefined {
  const r = ratioOf(m, peer);
  if (r === undefined || !m.target) return undefined;
  return m.target.op === '<=' ? r <= m.target.ratio : r >= m.target.ratio;
}

export const MiB = 1024 * 1024;
