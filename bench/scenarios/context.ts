// What every scenario receives, and the A/B interleaving rule.
import type { BenchEnv } from '../env.js';
import type { RuntimeUnderTest } from '../runtimes/runtime.js';
import type { Metric } from '../stats.js';

export interface BenchContext {
  env: BenchEnv;
  /** Runtimes under test, Bulkhead first when present. */
  runtimes: RuntimeUnderTest[];
  quick: boolean;
  logRoot: string;
  log(msg: string): void;
}

export type Scenario = (ctx: BenchContext) => Promise<Metric[]>;

/** A/B then B/A on alternate iterations, so neither runtime always runs on a warmer machine. */
export function order(runtimes: RuntimeUnderTest[], iteration: number): RuntimeUnderTest[] {
  return iteration % 2 ? [...runtimes].reverse() : runtimes;
}

/** The first line, its start and its end when long: CRI errors wrap the cause at the end. */
export function errorText(e: unknown): string {
  const line = (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
  return line.length <= 300 ? line : `${line.slice(0, 120)} … ${line.slice(-170)}`;
}
