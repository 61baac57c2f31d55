#!/usr/bin/env node
// Scrapes a running bulkheadd's /metrics and checks that the given series are non-zero, e.g. after
// (or during) a critest run:
//   node e2e/lib/check-metrics.mjs http://127.0.0.1:9464/metrics \
//     bulkhead_grpc_requests_total bulkhead_image_pulls_total 'bulkhead_sandbox_start_duration_seconds_count{handler="runc"}'
// Each check is a sample name with optional label matchers (values are anchored regexes, = and =~ alike);
// the matching samples' sum must be > 0.
// Prints one line per check; exits 1 if any is zero or missing. Needs `npm run build` (uses dist/).
import { parseExposition } from '../../dist/pkg/metrics/exposition.js';

const [url, ...checks] = process.argv.slice(2);
if (!url || checks.length === 0) {
  console.error('usage: check-metrics.mjs URL SAMPLE[{label="v",...}]...');
  process.exit(2);
}
const res = await fetch(url);
if (!res.ok) {
  console.error(`check-metrics: ${url}: HTTP ${res.status}`);
  process.exit(1);
}
const families = parseExposition(await res.text());
const samples = [...families.values()].flatMap((f) => f.samples);
let failed = 0;
for (const check of checks) {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$/.exec(check);
  if (!m) {
    console.error(`check-metrics: bad check ${check}`);
    process.exit(2);
  }
  const want = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)=~?"([^"]*)"/g)].map((x) => [x[1], new RegExp(`^(?:${x[2]})$`)]));
  const sum = samples
    .filter((s) => s.name === m[1] && Object.entries(want).every(([k, re]) => re.test(s.labels[k] ?? '')))
    .reduce((a, s) => a + s.value, 0);
  const ok = sum > 0;
  if (!ok) failed++;
  console.log(`${ok ? 'ok  ' : 'ZERO'} ${check} = ${sum}`);
}
process.exit(failed ? 1 : 0);
