// Output: the stdout table, bench/results/latest.json and the markdown used by docs/performance.md.
import { execFileSync } from 'node:child_process';
import { cpus, totalmem, release, loadavg } from 'node:os';
import { summarize, ratioOf, targetMet, type Metric, type Summary } from './stats.js';

export interface MachineInfo {
  date: string;
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  runc: string;
  conmon: string;
  containerd: string;
  bulkheadCommit: string;
  /** 1-minute load average at the start and the end of the run: this machine is shared, figures are noisy when it is high. */
  loadAvg: { start: number; end: number };
}

function firstLine(cmd: string, args: string[], cwd?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', cwd, stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0]!.trim();
  } catch {
    return 'unknown';
  }
}

export function machineInfo(repo: string, loadAtStart: number): MachineInfo {
  return {
    date: new Date().toISOString(),
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    runc: firstLine('runc', ['--version']),
    conmon: firstLine('conmon', ['--version']),
    containerd: firstLine('/usr/bin/containerd', ['--version']),
    bulkheadCommit: firstLine('git', ['rev-parse', '--short', 'HEAD'], repo),
    loadAvg: { start: loadAtStart, end: loadavg()[0]! },
  };
}

const fmt = (v: number | undefined, unit: Metric['unit']): string =>
  v === undefined ? '-' : unit === 'ms' ? (v >= 100 ? v.toFixed(0) : v.toFixed(1)) : v.toFixed(1);

function cell(s: Summary | undefined, unit: Metric['unit']): string {
  return s ? `${fmt(s.median, unit)} / ${fmt(s.p90, unit)} / ${fmt(s.max, unit)}` : 'n/a';
}

interface Row {
  label: string;
  unit: string;
  bulkhead: string;
  containerd: string;
  ratio: string;
  target: string;
}

function rows(metrics: Metric[]): Row[] {
  return metrics.map((m) => {
    const r = ratioOf(m);
    const met = targetMet(m);
    return {
      label: m.label,
      unit: m.unit,
      bulkhead: cell(summarize(m.samples.bulkhead ?? []), m.unit),
      containerd: cell(summarize(m.samples.containerd ?? []), m.unit),
      ratio: r === undefined ? '-' : `${r.toFixed(2)}×`,
      target: m.target ? `${m.target.op} ${m.target.ratio}× ${met === undefined ? '' : met ? 'met' : 'MISSED'}`.trim() : '',
    };
  });
}

const HEAD: Row = { label: 'metric', unit: 'unit', bulkhead: 'bulkhead med/p90/max', containerd: 'containerd med/p90/max', ratio: 'B/C', target: 'target' };

export function renderTable(metrics: Metric[]): string {
  const all = [HEAD, ...rows(metrics)];
  const keys = Object.keys(HEAD) as Array<keyof Row>;
  const width = Object.fromEntries(keys.map((k) => [k, Math.max(...all.map((r) => r[k].length))])) as Record<keyof Row, number>;
  const line = (r: Row) => keys.map((k) => r[k].padEnd(width[k])).join('  ').trimEnd();
  const out = [line(all[0]!), keys.map((k) => '-'.repeat(width[k])).join('  '), ...all.slice(1).map(line)];
  for (const m of metrics) for (const n of m.notes ?? []) out.push(`  note [${m.id}]: ${n}`);
  return out.join('\n');
}

export function renderMarkdown(metrics: Metric[]): string {
  const out = ['| metric | unit | Bulkhead median / p90 / max | containerd median / p90 / max | ratio B/C (medians) | target |', '|---|---|---|---|---|---|'];
  for (const r of rows(metrics)) out.push(`| ${r.label} | ${r.unit} | ${r.bulkhead} | ${r.containerd} | ${r.ratio} | ${r.target} |`);
  const notes = metrics.flatMap((m) => (m.notes ?? []).map((n) => `- \`${m.id}\`: ${n}`));
  if (notes.length) out.push('', 'Notes from the run:', '', ...notes);
  return out.join('\n');
}

export function resultsJson(machine: MachineInfo, metrics: Metric[], args: Record<string, unknown>): string {
  return JSON.stringify(
    {
      machine,
      args,
      metrics: metrics.map((m) => ({
        ...m,
        summary: { bulkhead: summarize(m.samples.bulkhead ?? []), containerd: summarize(m.samples.containerd ?? []) },
        ratio: ratioOf(m),
        targetMet: targetMet(m),
      })),
    },
    null,
    2,
  );
}
