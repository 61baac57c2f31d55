#!/usr/bin/env node
// e2e/systemd-node/report.mjs SERIAL_LOG OUT_JSON - turns the node's serial log into a vitest-style
// JSON report for e2e/lib/summarize.mjs: one result per "[check ...] PASS|FAIL <what>" line, and
// critest's own counts from its "N Passed | N Failed | N Pending | N Skipped" line (its failed
// specs by name from the "[FAIL]" lines). A run without a verdict line is one failure.
import { readFileSync, writeFileSync } from 'node:fs';

const [serial, out] = process.argv.slice(2);
const text = readFileSync(serial, 'latin1');
const results = [];
const add = (status, fullName, msg) => results.push({ status, fullName, title: fullName, failureMessages: msg ? [msg] : [] });
for (const m of text.matchAll(/^\[check +[\d.]+s\] (PASS|FAIL) (.*)$/gm)) {
  // critest's own check line is replaced by its spec counts below
  if (/^critest /.test(m[2])) continue;
  add(m[1] === 'PASS' ? 'passed' : 'failed', `systemd node: ${m[2]}`, m[1] === 'FAIL' ? m[2] : undefined);
}
const counts = /^\[critest\] .*?(\d+) Passed \| (\d+) Failed \| (\d+) Pending \| (\d+) Skipped/m.exec(text);
if (counts) {
  const fails = [...text.matchAll(/^\[critest\] \[FAIL\] (.*)$/gm)].map((m) => m[1]);
  for (let i = 0; i < Number(counts[1]); i++) add('passed', `systemd node: critest spec ${i + 1}`);
  for (let i = 0; i < Number(counts[2]); i++) add('failed', `systemd node: critest ${fails[i] ?? `spec ${i + 1}`}`, fails[i]);
} else if (/\[check +[\d.]+s\] FAIL critest/m.test(text)) add('failed', 'systemd node: critest (no counts)', 'critest exited non-zero without a summary');
if (!/SYSTEMD-NODE-RESULT: /.test(text)) add('failed', 'systemd node: verdict', 'no SYSTEMD-NODE-RESULT line (boot or check did not finish)');
const failed = results.some((r) => r.status === 'failed');
writeFileSync(out, JSON.stringify({ testResults: [{ name: 'e2e/systemd-node', status: failed ? 'failed' : 'passed', assertionResults: results }] }, null, 1));
