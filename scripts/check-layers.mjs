#!/usr/bin/env node
// Package layering check (e2e/run-all.sh step "layers"): parses the imports of pkg/ and cmd/,
// builds the package graph (pkg/<name>, cmd/<name>), finds its cycles (Tarjan SCC) and fails on any
// package edge inside a cycle that scripts/layers-baseline.txt does not list (a ratchet; the
// baseline is empty since the cycles were broken), on any import into a higher layer of LAYERS
// below, and on a package LAYERS does not place. Dependency-free on purpose (runs before anything
// is built).
//
// What counts: every static `import`/`export … from`, side-effect `import '…'` and dynamic
// `import('…')` of a relative path, type-only ones included: `import type` still makes one package's
// API depend on another's, and a cycle of types is the same design knot as a cycle of values.
// Test files (*.test.ts) do not count: they are not part of the shipped module graph, and a test
// may drive a lower package through a higher one.
//
//   node scripts/check-layers.mjs            check against the baseline (exit 1 on a new cycle edge)
//   node scripts/check-layers.mjs --update   rewrite the baseline to today's cycle edges
//   node scripts/check-layers.mjs --verbose  also list the files behind each cycle edge
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sourceFiles } from './lib/source-files.mjs';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// The layers, top to bottom (docs/architecture.md). A package may import packages of its own layer
// (as long as no cycle forms) and of the layers below it, never above. A package missing from this
// table fails the check: place it when you add it.
export const LAYERS = [
  ['cmd/bulkheadd', 'cmd/bulkhead', 'cmd/bulkhead-agent'], // entry points
  ['daemon', 'ops'], // composition: the only place that knows every subsystem
  ['cri', 'grpc'], // the gRPC edge: CRI handlers and the server; error kinds become status codes here only
  ['container', 'sandbox', 'stats', 'streaming'], // pod and container orchestration, streaming sessions
  ['runtime'], // the runtimes behind one seam: OCI (runc + conmon) and micro-VM
  ['oci', 'cdi', 'vm', 'network', 'image', 'cgroups', 'agent', 'vmchannel'], // what the runtimes are built from
  ['events', 'validation', 'status', 'metrics', 'config', 'store', 'errors', 'api', 'log', 'sys'], // foundation
];

/** Edges that import upward (into a higher layer) and packages the table does not place. */
export function layerViolations(graph, layers = LAYERS) {
  const level = new Map();
  layers.forEach((ps, i) => ps.forEach((p) => level.set(p, i)));
  const unplaced = new Set();
  const upward = [];
  for (const [from, tos] of graph) {
    if (!level.has(from)) unplaced.add(from);
    for (const to of tos.keys()) {
      if (!level.has(to)) unplaced.add(to);
      else if (level.has(from) && level.get(to) < level.get(from)) upward.push(`${from} -> ${to}`);
    }
  }
  return { upward: upward.sort(), unplaced: [...unplaced].sort() };
}
const ROOTS = ['pkg', 'cmd'];
const BASELINE = join(REPO, 'scripts', 'layers-baseline.txt');

/** The package a repo-relative file belongs to: pkg/runtime/vm/x.ts → "runtime", cmd/bulkhead/main.ts → "cmd/bulkhead". */
function packageOf(rel) {
  const parts = rel.split(sep);
  if (parts[0] === 'pkg' && parts.length > 2) return parts[1];
  if (parts[0] === 'cmd' && parts.length > 2) return `cmd/${parts[1]}`;
  return undefined;
}

// Comments are blanked first so that a commented-out import does not count. A comment must start
// a line or follow white space: "/*" and "//" inside strings ('**/*.ts', 'http://…') stay.
const COMMENTS = /(^|\s)(?:\/\*[\s\S]*?\*\/|\/\/[^\n]*)/g;
const SPECIFIERS = [
  /^\s*(?:import|export)\s+(?:type\s+)?[^;'"`]*?\sfrom\s*['"]([^'"]+)['"]/gm,
  /^\s*import\s*['"]([^'"]+)['"]/gm,
  /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
];

export function importsOf(text) {
  const src = text.replace(COMMENTS, (_m, pre = '') => pre);
  const specs = new Set();
  for (const re of SPECIFIERS) for (const m of src.matchAll(re)) specs.add(m[1]);
  return [...specs].filter((s) => s.startsWith('.'));
}

/** Package graph: Map<from, Map<to, string[] (importing file → imported file)>>. */
export function packageGraph(repo = REPO) {
  const graph = new Map();
  for (const root of ROOTS) {
    for (const file of sourceFiles(join(repo, root))) {
      const rel = relative(repo, file);
      const from = packageOf(rel);
      if (!from) continue;
      if (!graph.has(from)) graph.set(from, new Map());
      for (const spec of importsOf(readFileSync(file, 'utf8'))) {
        const target = relative(repo, resolve(dirname(file), spec));
        const to = packageOf(target);
        if (!to || to === from) continue;
        const edges = graph.get(from);
        if (!edges.has(to)) edges.set(to, []);
        edges.get(to).push(`${rel} → ${target.replace(/\.js$/, '.ts')}`);
      }
    }
  }
  return graph;
}

/** Tarjan's strongly connected components; only those with more than one package are cycles. */
export function cycles(graph) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const onStack = new Set();
  const stack = [];
  const out = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const scc = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return out.sort((a, b) => b.length - a.length || a[0].localeCompare(b[0]));
}

/** Edges whose both ends sit in the same cycle: the ones that keep it a cycle. */
export function cycleEdges(graph, sccs) {
  const sccOf = new Map();
  sccs.forEach((scc, i) => scc.forEach((p) => sccOf.set(p, i)));
  const edges = [];
  for (const [from, tos] of graph) {
    for (const to of tos.keys()) if (sccOf.has(from) && sccOf.get(from) === sccOf.get(to)) edges.push(`${from} -> ${to}`);
  }
  return edges.sort();
}

function readBaseline() {
  if (!existsSync(BASELINE)) return new Set();
  return new Set(
    readFileSync(BASELINE, 'utf8')
      .split('\n')
      .map((l) => l.replace(/#.*/, '').trim())
      .filter(Boolean),
  );
}

function writeBaseline(edges) {
  const head = [
    '# Package edges that sit inside an import cycle today, one "from -> to" per line (written by',
    '# `node scripts/check-layers.mjs --update`). scripts/check-layers.mjs fails on any cycle edge not',
    '# listed here. Remove lines as cycles are broken; never add one by hand to let a new cycle in.',
  ];
  writeFileSync(BASELINE, [...head, ...edges, ''].join('\n'));
}

function main(argv) {
  const graph = packageGraph();
  const sccs = cycles(graph);
  const edges = cycleEdges(graph, sccs);
  const inCycles = sccs.reduce((n, s) => n + s.length, 0);
  console.log(`layers: ${graph.size} packages, ${sccs.length} package cycle(s), ${inCycles} packages in cycles, ${edges.length} cycle edges`);
  for (const scc of sccs) console.log(`  cycle: {${scc.join(', ')}}`);
  if (argv.includes('--update')) {
    writeBaseline(edges);
    console.log(`layers: baseline rewritten (${relative(REPO, BASELINE)})`);
    return 0;
  }
  const allowed = readBaseline();
  const added = edges.filter((e) => !allowed.has(e));
  const gone = [...allowed].filter((e) => !edges.includes(e));
  if (argv.includes('--verbose') || added.length) {
    for (const e of argv.includes('--verbose') ? edges : added) {
      const [from, to] = e.split(' -> ');
      console.log(`  ${e}${allowed.has(e) ? '' : '   NEW'}`);
      for (const f of graph.get(from).get(to)) console.log(`      ${f}`);
    }
  }
  if (gone.length) console.log(`layers: ${gone.length} baseline edge(s) no longer in a cycle (run --update to tighten): ${gone.join(', ')}`);
  if (added.length) {
    console.error(`layers: FAIL: ${added.length} new package edge(s) create or extend an import cycle: ${added.join(', ')}`);
    return 1;
  }
  const { upward, unplaced } = layerViolations(graph);
  for (const e of upward) {
    const [from, to] = e.split(' -> ');
    console.error(`  ${e}   UPWARD`);
    for (const f of graph.get(from).get(to)) console.error(`      ${f}`);
  }
  if (unplaced.length) console.error(`layers: FAIL: package(s) not placed in LAYERS (scripts/check-layers.mjs): ${unplaced.join(', ')}`);
  if (upward.length) console.error(`layers: FAIL: ${upward.length} import(s) into a higher layer`);
  if (upward.length || unplaced.length) return 1;
  console.log(`layers: ok (no cycle edge beyond scripts/layers-baseline.txt, no upward import across ${LAYERS.length} layers)`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
