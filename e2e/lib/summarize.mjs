#!/usr/bin/env node
// Sums the results of one e2e run into the closing line "N passed, N failed, N skipped".
//   node e2e/lib/summarize.mjs [--vitest NAME=report.json]... [--ginkgo NAME=report.json]...
//                              [--focus RE] [--ginkgo-focus NAME=RE]... [--skip RE] [--skip-for NAME=RE]...
//                              [--ignore-for NAME=RE]... [--step NAME=EXITCODE]...
// --ginkgo-focus / --skip-for give one ginkgo report its own focus / skip regex (e.g. the
// Streaming-only WebSocket rerun, the micro-VM critest run's skip list). --ignore-for: specs
// never part of that run (the conformance suite's [Serial]/[Slow]/...), not counted at all.
// vitest: its JSON reporter file. ginkgo: critest's --ginkgo.json-report file; specs the focus
// did not select are not counted, specs the skip list removed count as skipped.
// A step that exited non-zero without any failed test in its report (crash, missing report,
// failed suite set-up) counts as one failure, so a broken run can never look green.
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    vitest: { type: 'string', multiple: true, default: [] },
    ginkgo: { type: 'string', multiple: true, default: [] },
    focus: { type: 'string', default: '' },
    'ginkgo-focus': { type: 'string', multiple: true, default: [] },
    skip: { type: 'string', default: '' },
    'skip-for': { type: 'string', multiple: true, default: [] },
    'ignore-for': { type: 'string', multiple: true, default: [] },
    step: { type: 'string', multiple: true, default: [] },
  },
});

const split = (s) => {
  const i = s.indexOf('=');
  return [s.slice(0, i), s.slice(i + 1)];
};
// CI shows only the tail of the log, so each failure carries the first lines of its reason.
const withReason = (name, message) => {
  const why = (message ?? '').split('\n').filter((l) => l.trim()).slice(0, 3).map((l) => l.trim().slice(0, 300));
  return why.length ? `${name}\n          ${why.join('\n          ')}` : name;
};
const readJson = (file) => (existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined);

/** @type {Map<string, {passed:number, failed:number, skipped:number, failures:string[]}>} */
const results = new Map();
const get = (name) => {
  if (!results.has(name)) results.set(name, { passed: 0, failed: 0, skipped: 0, failures: [] });
  return results.get(name);
};

for (const [name, file] of values.vitest.map(split)) {
  const r = get(name);
  const rep = readJson(file);
  if (!rep) continue;
  for (const f of rep.testResults ?? []) {
    const tests = f.assertionResults ?? [];
    for (const t of tests) {
      if (t.status === 'passed') r.passed++;
      else if (t.status === 'failed') {
        r.failed++;
        r.failures.push(withReason(t.fullName ?? t.title, t.failureMessages?.[0]));
      } else r.skipped++; // skipped, pending, todo
    }
    // A file that failed to load or whose hooks failed has no failed test of its own.
    if (f.status === 'failed' && !tests.some((t) => t.status === 'failed')) {
      r.failed++;
      r.failures.push(`${f.name}: ${(f.message || 'suite failed').split('\n')[0]}`);
    }
  }
}

const FAILED_STATES = new Set(['failed', 'panicked', 'timedout', 'interrupted', 'aborted']);
const globalFocus = values.focus ? new RegExp(values.focus) : undefined;
const focusOf = new Map(values['ginkgo-focus'].map(split).map(([n, re]) => [n, re ? new RegExp(re) : undefined]));
const skipFor = new Map(values['skip-for'].map(split));
const ignoreFor = new Map(values['ignore-for'].map(split).map(([n, re]) => [n, re ? new RegExp(re) : undefined]));
for (const [name, file] of values.ginkgo.map(split)) {
  const skipRe = skipFor.has(name) ? skipFor.get(name) : values.skip;
  const skip = skipRe ? new RegExp(skipRe) : undefined;
  const r = get(name);
  const focus = focusOf.has(name) ? focusOf.get(name) : globalFocus;
  const ignore = ignoreFor.get(name);
  const suites = readJson(file);
  if (!suites) continue;
  for (const suite of suites) {
    for (const s of suite.SpecReports ?? []) {
      const text = [...(s.ContainerHierarchyTexts ?? []), s.LeafNodeText].filter(Boolean).join(' ');
      if (s.LeafNodeType !== 'It') {
        // BeforeSuite/AfterSuite/ReportAfterSuite: only their failures matter.
        if (FAILED_STATES.has(s.State)) {
          r.failed++;
          r.failures.push(`[${s.LeafNodeType}] ${s.Failure?.Message?.split('\n')[0] ?? ''}`);
        }
        continue;
      }
      if (ignore && ignore.test(text)) continue; // never part of this run
      if (s.State === 'passed') r.passed++;
      else if (FAILED_STATES.has(s.State)) {
        r.failed++;
        r.failures.push(withReason(text, s.Failure?.Message));
      } else if (s.State === 'skipped' && s.Failure?.Message) r.skipped++; // Skip() at run time
      else if (focus && !focus.test(text)) continue; // not selected by the focus: not part of the run
      else if (skip && skip.test(text)) r.skipped++; // on the documented skip list
      else if (s.State === 'pending') r.skipped++;
    }
  }
}

for (const [name, rc] of values.step.map(split)) {
  const r = get(name);
  if (rc !== '0' && r.failed === 0) {
    r.failed++;
    r.failures.push(`${name} exited ${rc} without a failed test in its report`);
  }
}

let passed = 0;
let failed = 0;
let skipped = 0;
for (const [name, r] of results) {
  passed += r.passed;
  failed += r.failed;
  skipped += r.skipped;
  if (r.passed + r.failed + r.skipped === 0) continue; // a step without tests that went fine
  console.log(`  ${name.padEnd(14)} ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped`);
  for (const f of r.failures.slice(0, 40)) console.log(`      FAILED: ${f}`);
  if (r.failures.length > 40) console.log(`      ... and ${r.failures.length - 40} more`);
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);
