// npm run bench [-- --quick] [--runtimes bulkhead,containerd2,crio,containerd1] [--no-build] [--scenarios a,b]
// [--cpu-prof DIR] [--node-args ARGS] [--out-dir DIR] [--strace FILE [--strace-mode count|exec]]
// (env BENCH_REGISTRY: the loopback registry, default 127.0.0.1:5000):
// Bulkhead, containerd 2.x, CRI-O and containerd 1.6 side by side in one run, interleaved.
// The full run builds containerd 2.x and CRI-O (bench/setup/build-peers.sh, cached); --quick and
// --no-build only use them when already cached and report them missing otherwise.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { createEnv, REGISTRY } from './env.js';
import { KNOWN_RUNTIMES, startRuntimes } from './runtimes/start.js';
import type { RuntimeName, RuntimeUnderTest } from './runtimes/runtime.js';
import { machineInfo, renderMarkdown, renderTable, resultsJson, primaryPeer, type Column } from './report.js';
import type { Metric } from './stats.js';
import type { BenchContext, Scenario } from './scenarios/context.js';
import { podLifecycle } from './scenarios/pod-lifecycle.js';
import { concurrentPods } from './scenarios/concurrent.js';
import { idleMemory } from './scenarios/idle-memory.js';
import { pullHuge, pullUnpack } from './scenarios/pull.js';
import { cpuPerPod } from './scenarios/cpu-per-pod.js';
import { density } from './scenarios/density.js';
import { microVm } from './scenarios/microvm.js';
import { crictlLoop } from './scenarios/crictl-loop.js';

const SCENARIOS: Record<string, Scenario> = {
  lifecycle: podLifecycle,
  idle: idleMemory,
  concurrent: concurrentPods,
  /** CPU time per pod lifecycle, daemon + per-pod helpers (issue #18). */
  cpu: cpuPerPod,
  pull: pullUnpack,
  /** The ~1 GiB / 8-layer pull (issue #18): left out of --quick unless named in --scenarios. */
  pull1g: pullHuge,
  density,
  microvm: microVm,
  /** Diagnostic (issue #18): the lifecycle through crictl processes, next to the in-process one. */
  crictl: crictlLoop,
};

/** Too long for --quick's default list (a ~1 GiB pull per runtime); --scenarios pull1g still runs it once. */
const QUICK_SKIPS = ['pull1g'];

// dist/bench/main.js → repo root two levels up.
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      /** containerd1 = Debian's 1.6.20 ('containerd' is accepted for it), containerd2 and crio are built. */
      runtimes: { type: 'string', default: 'bulkhead,containerd2,crio,containerd1' },
      /** Never build peers (CI's smoke): containerd2/crio run only if bench/setup/build-peers.sh cached them. */
      'no-build': { type: 'boolean', default: false },
      scenarios: { type: 'string' },
      'cpu-prof': { type: 'string' },
      /** Extra node flags for bulkheadd (space separated), e.g. "--max-semi-space-size=2". */
      'node-args': { type: 'string', default: '' },
      /** bulkheadd log level (its log stays in the temp dir; --keep-logs copies it to bench/results). */
      'log-level': { type: 'string', default: 'warn' },
      'keep-logs': { type: 'boolean', default: false },
      strace: { type: 'string' },
      /** count: strace -c summary; exec: every execve with its arguments (which children a pod costs). */
      'strace-mode': { type: 'string', default: 'count' },
      /** Where latest.json/latest.md go (the CI smoke writes to its work dir, not the committed results). */
      'out-dir': { type: 'string', default: 'bench/results' },
    },
  });
  const wanted = [...new Set(values.runtimes.split(',').filter(Boolean).map((r) => (r === 'containerd' ? 'containerd1' : r)))];
  for (const r of wanted) if (!KNOWN_RUNTIMES.includes(r as RuntimeName)) throw new Error(`unknown runtime ${r} (known: ${KNOWN_RUNTIMES.join(', ')})`);
  const scenarios = (values.scenarios ?? Object.keys(SCENARIOS).filter((s) => !(values.quick && QUICK_SKIPS.includes(s))).join(',')).split(',').filter(Boolean);
  for (const s of scenarios) if (!SCENARIOS[s]) throw new Error(`unknown scenario ${s} (known: ${Object.keys(SCENARIOS).join(', ')})`);

  // The image scripts push to the registry the runtimes pull from (BENCH_REGISTRY, bench/env.ts).
  const images: Array<[string, string]> = [['pull', 'make-big-image.sh'], ['pull1g', 'make-huge-image.sh']];
  for (const [scenario, script] of images.filter(([s]) => scenarios.includes(s))) {
    log(`ensuring the ${scenario} image is in the loopback registry (${script})`);
    execFileSync('bash', [join(REPO, 'bench/images', script)], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, REG: REGISTRY } });
  }

  const loadAtStart = loadavg()[0]!;
  const env = createEnv(REPO);
  const logRoot = join(env.dir, 'pod-logs');
  const runtimes: RuntimeUnderTest[] = [];
  let strace: ChildProcess | undefined;
  const cleanup = async () => {
    if (strace && strace.exitCode === null) {
      strace.kill('SIGINT');
      await sleep(500);
    }
    if (values['keep-logs']) {
      mkdirSync(join(REPO, 'bench/results'), { recursive: true });
      for (const rt of runtimes) copyFileSync(rt.logFile, join(REPO, 'bench/results', `${rt.name}.log`));
    }
    for (const rt of runtimes) await rt.stop().catch((e: unknown) => log(`stop ${rt.name}: ${String(e)}`));
    env.cleanup();
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

  const metrics: Metric[] = [];
  const columns: Column[] = [];
  const versions: Record<string, string> = {};
  try {
    const nodeArgs = values['node-args'].split(' ').filter(Boolean);
    if (values['cpu-prof']) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${resolve(values['cpu-prof'])}`);
    const build = !(values.quick || values['no-build']);
    await startRuntimes({ repo: REPO, env, wanted, build, logLevel: values['log-level'], nodeArgs, log }, runtimes, columns, versions);
    if (values.strace) {
      const b = runtimes.find((r) => r.name === 'bulkhead');
      if (b) {
        const mode = values['strace-mode'] === 'exec' ? ['-e', 'trace=execve', '-s', '120', '-tt'] : ['-c'];
        strace = spawn('strace', [...mode, '-f', '-o', resolve(values.strace), '-p', String(b.daemonPid())], { stdio: 'ignore' });
        await sleep(300); // attached before the first measured RPC
      }
    }
    log(`images pulled; network ${env.networkName} (${env.subnet}); scenarios: ${scenarios.join(', ')}${values.quick ? ' (quick)' : ''}`);
    const ctx: BenchContext = { env, runtimes, quick: values.quick, logRoot, log };
    for (const s of scenarios) {
      const t0 = Date.now();
      const got = await SCENARIOS[s]!(ctx);
      metrics.push(...got);
      log(`${s} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  } finally {
    await cleanup();
  }

  const machine = machineInfo(REPO, loadAtStart, versions);
  const primary = primaryPeer(columns);
  process.stdout.write(
    `\nBulkhead vs ${columns.filter((c) => c.name !== 'bulkhead').map((c) => c.label + (c.missing ? ' (missing)' : '')).join(', ') || 'no peer'} — ratios B/peer of medians, targets vs ${primary?.label ?? 'no peer'}; ${machine.cores} cores, ${machine.memoryGiB} GiB, kernel ${machine.kernel}, ${machine.runc.split(' ').slice(0, 3).join(' ')}; load average ${machine.loadAvg.start.toFixed(1)} → ${machine.loadAvg.end.toFixed(1)}\n\n`,
  );
  process.stdout.write(renderTable(metrics, columns) + '\n');
  const resultsDir = resolve(REPO, values['out-dir']);
  mkdirSync(resultsDir, { recursive: true });
  const args = { quick: values.quick, runtimes: wanted, scenarios };
  writeFileSync(join(resultsDir, 'latest.json'), resultsJson(machine, metrics, columns, args) + '\n');
  writeFileSync(join(resultsDir, 'latest.md'), renderMarkdown(metrics, columns) + '\n');
  log(`wrote ${join(resultsDir, 'latest.json')} and latest.md`);
  // Peers may fail (they are reported); Bulkhead failing a scenario fails the run (CI's smoke).
  const ours = metrics.flatMap((m) => m.notes ?? []).filter((n) => n.startsWith('Bulkhead failed'));
  if (ours.length) {
    log(`Bulkhead failed: ${ours[0]}`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    log(`failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
