// The shipped Grafana dashboard must only query metrics the daemon exports (names drift otherwise).
import { describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BulkheadMetrics } from './registry.js';
import { parseExposition } from './exposition.js';

const DASHBOARD = fileURLToPath(new URL('../../deploy/grafana/bulkhead-dashboard.json', import.meta.url));

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
}

describe('deploy/grafana/bulkhead-dashboard.json', () => {
  test('every metric it queries is exported, and every exported bulkhead metric family is on it', async () => {
    const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[]; templating: { list: { definition?: string }[] } };
    const m = new BulkheadMetrics();
    m.enableProcessMetrics();
    const fams = parseExposition(await m.text());
    const exported = new Set<string>();
    for (const f of fams.values()) {
      exported.add(f.name);
      for (const suffix of ['_bucket', '_sum', '_count']) if (f.type === 'histogram') exported.add(f.name + suffix);
    }
    const exprs = dash.panels.flatMap((p) => p.targets?.map((t) => t.expr) ?? []).concat(dash.templating.list.flatMap((v) => v.definition ?? []));
    const used = new Set(exprs.flatMap((e) => e.match(/bulkhead_[a-z0-9_]+/g) ?? []));
    expect([...used].filter((n) => !exported.has(n))).toEqual([]);

    const ours = [...fams.keys()].filter((n) => !/^bulkhead_(process|nodejs)_/.test(n));
    const usedFamilies = new Set([...used].map((n) => n.replace(/_(bucket|sum|count)$/, '')));
    expect(ours.filter((n) => !usedFamilies.has(n))).toEqual([]);
    expect(dash.panels.filter((p) => p.type === 'timeseries').length).toBeGreaterThanOrEqual(15);
  });
});
