// Output: the stdout table, bench/results/latest.json and the markdown used by docs/performance.md.
import { execFileSync } from 'node:child_process';
import { cpus, totalmem, release, loadavg } from 'node:os';
import { summarize, ratioOf, targetMet, type Metric, type Summary } from './stats.js';
import { PEER_NAMES, type PeerName, type RuntimeName } from './runtimes/runtime.js';

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
  /** Versions of every runtime that ran, as their CRI Version call reported them. */
  runtimeVersions: Record<string, string>;
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

export function machineInfo(repo: string, loadAtStart: number, runtimeVersions: Record<string, string>): MachineInfo {
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
    runtimeVersions,
    bulkheadCommit: firstLine('git', ['rev-parse', '--short', 'HEAD'], repo),
    loadAvg: { start: loadAtStart, end: loadavg()[0]! },
  };
}

const fmt = (v: number | undefined, unit: Metric['unit']): string =>
  v === undefined ? '-' : unit === 'ms' ? (v >= 100 ? v.toFixed(0) : v.toFixed(1)) : v.toFixed(1);

/** median / p90 / max; median / p99 / max for a metric whose ratio compares p99s (its label says so). */
function cell(s: Summary | undefined, m: Metric): string {
  const tail = m.compare === 'p99' ? s?.p99 : s?.p90;
  return s ? `${fmt(s.median, m.unit)} / ${fmt(tail, m.unit)} / ${fmt(s.max, m.unit)}` : 'n/a';
}

/** A column of the table: a runtime that ran, or one that was asked for and is missing (why). */
export interface Column {
  name: RuntimeName;
  label: string;
  missing?: string;
}

/** Targets are against containerd 2.x (issue #18); without it, against the first peer that ran. */
export function primaryPeer(columns: Column[]): Column | undefined {
  const ran = columns.filter((c) => c.name !== 'bulkhead' && !c.missing);
  return PEER_NAMES.map((p) => ran.find((c) => c.name === p)).find(Boolean);
}

const ratioPeers = (columns: Column[]): Column[] =>
  PEER_NAMES.map((p) => columns.find((c) => c.name === p && !c.missing)).filter((c): c is Column => !!c);

type Row = string[];

function header(columns: Column[]): Row {
  const primary = primaryPeer(columns);
  return [
    'metric',
    'unit',
    ...columns.map((c) => `${c.label} med/p90/max`),
    ...ratioPeers(columns).map((c) => `B/${c.label}`),
    primary ? `target (vs ${primary.label})` : 'target',
  ];
}

function rows(metrics: Metric[], columns: Column[]): Row[] {
  const primary = primaryPeer(columns);
  return metrics.map((m) => {
    const met = primary ? targetMet(m, primary.name as PeerName) : undefined;
    return [
      m.label,
      m.unit,
      ...columns.map((c) => (c.missing ? 'missing' : cell(summarize(m.samples[c.name] ?? []), m))),
      ...ratioPeers(columns).map((c) => {
        const r = ratioOf(m, c.name as PeerName);
        return r === undefined ? '-' : `${r.toFixed(2)}×`;
      }),
      m.target ? `${m.target.op} ${m.target.ratio}× ${met === undefined ? '' : met ? 'met' : 'MISSED'}`.trim() : '',
    ];
  });
}

const missingNotes = (columns: Column[]): string[] =>
  columns.filter((c) => c.missing).map((c) => `${c.label}: missing: ${c.missing}`);

export function renderTable(metrics: Metric[], columns: Column[]): string {
  const all = [header(columns), ...rows(metrics, columns)];
  const width = all[0]!.map((_h, k) => Math.max(...all.map((r) => r[k]!.length)));
  const line = (r: Row) => r.map((v, k) => v.padEnd(width[k]!)).join('  ').trimEnd();
  const out = [line(all[0]!), width.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)];
  for (const n of missingNotes(columns)) out.push(`  ${n}`);
  for (const m of metrics) for (const n of m.notes ?? []) out.push(`  note [${m.id}]: ${n}`);
  return out.join('\n');
}

export function renderMarkdown(metrics: Metric[], columns: Column[]): string {
  const head = header(columns).map((h) => h.replace(' med/p90/max', ' median / p90 / max'));
  const out = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows(metrics, columns)) out.push(`| ${r.join(' | ')} |`);
  const notes = [...missingNotes(columns).map((n) => `- ${n}`), ...metrics.flatMap((m) => (m.notes ?? []).map((n) => `- \`${m.id}\`: ${n}`))];
  if (notes.length) out.push('', 'Notes from the run:', '', ...notes);
  return out.join('\n');
}

export function resultsJson(machine: MachineInfo, metrics: Metric[], columns: Column[], args: Record<string, unknown>): string {
  const primary = primaryPeer(columns);
  return JSON.stringify(
    {
      machine,
      args,
      runtimes: columns,
      primaryPeer: primary?.name,
      metrics: metrics.map((m) => ({
        ...m,
        summary: Object.fromEntries(columns.map((c) => [c.name, summarize(m.samples[c.name] ?? [])])),
        ratios: Object.fromEntries(ratioPeers(columns).map((c) => [c.name, ratioOf(m, c.name as PeerName)])),
        targetMet: primary ? targetMet(m, primary.name as PeerName) : undefined,
      })),
    },
    null,
    2,
  );
}
