#!/usr/bin/env node
// Generates bulkhead-dashboard.json (checked in; re-run after changing metrics: node deploy/grafana/generate-dashboard.mjs).
// Every expression uses only bulkhead_* names exported by pkg/metrics/registry.ts (a unit test checks this).
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ds = { type: 'prometheus', uid: '${datasource}' };
const sel = 'instance=~"$instance"';
const RI = '$__rate_interval';
let id = 0;
let y = 0;
const panels = [];

function row(title) {
  panels.push({ type: 'row', id: ++id, title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
  y += 1;
}

/** A row of timeseries panels, equal widths. */
function line(...specs) {
  const w = Math.floor(24 / specs.length);
  specs.forEach((s, i) => {
    panels.push({
      type: 'timeseries',
      id: ++id,
      title: s.title,
      description: s.description ?? '',
      datasource: ds,
      gridPos: { h: 8, w, x: i * w, y },
      fieldConfig: {
        defaults: { unit: s.unit ?? 'short', min: 0, custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: s.stack ? 30 : 0, stacking: { mode: s.stack ? 'normal' : 'none' } } },
        overrides: [],
      },
      options: { legend: { displayMode: 'table', placement: 'bottom', calcs: ['lastNotNull', 'max'] }, tooltip: { mode: 'multi', sort: 'desc' } },
      targets: s.targets.map(([expr, legendFormat], j) => ({ refId: String.fromCharCode(65 + j), datasource: ds, expr, legendFormat })),
    });
  });
  y += 8;
}

const q = (p, metric, by) => `histogram_quantile(${p}, sum by (le, ${by}) (rate(${metric}_bucket{${sel}}[${RI}])))`;

row('CRI RPCs');
line(
  { title: 'RPC rate by method', unit: 'reqps', targets: [[`sum by (service, method) (rate(bulkhead_grpc_requests_total{${sel}}[${RI}]))`, '{{method}}']] },
  {
    title: 'RPC errors by method and code',
    unit: 'reqps',
    description: 'Non-OK gRPC codes. UNIMPLEMENTED/NOT_FOUND are often expected (kubelet probes); watch INTERNAL and DEADLINE_EXCEEDED.',
    targets: [
      [`sum by (method, code) (rate(bulkhead_grpc_errors_total{${sel}}[${RI}]))`, '{{method}} {{code}}'],
      [`sum(rate(bulkhead_grpc_errors_total{${sel},code!~"UNIMPLEMENTED|NOT_FOUND"}[${RI}]))`, 'unexpected errors'],
    ],
  },
  {
    title: 'RPC latency p50 / p99',
    unit: 's',
    targets: [
      [q(0.5, 'bulkhead_grpc_request_duration_seconds', 'method'), 'p50 {{method}}'],
      [q(0.99, 'bulkhead_grpc_request_duration_seconds', 'method'), 'p99 {{method}}'],
    ],
  },
);

row('Pods and containers');
line(
  { title: 'Pods by handler and state', stack: true, targets: [[`sum by (handler, state) (bulkhead_pods{${sel}})`, '{{handler}} {{state}}']] },
  { title: 'Containers by handler and state', stack: true, targets: [[`sum by (handler, state) (bulkhead_containers{${sel}})`, '{{handler}} {{state}}']] },
);
line(
  {
    title: 'Sandbox start latency p50 / p99 by handler and accelerator',
    unit: 's',
    targets: [
      [q(0.5, 'bulkhead_sandbox_start_duration_seconds', 'handler, accelerator'), 'p50 {{handler}} ({{accelerator}})'],
      [q(0.99, 'bulkhead_sandbox_start_duration_seconds', 'handler, accelerator'), 'p99 {{handler}} ({{accelerator}})'],
    ],
  },
  { title: 'VM warm pool size', targets: [[`sum by (handler) (bulkhead_vm_pool_size{${sel}})`, '{{handler}}']] },
  {
    title: 'VM warm pool hits / misses',
    unit: 'ops',
    targets: [
      [`sum by (handler) (rate(bulkhead_vm_pool_hits_total{${sel}}[${RI}]))`, 'hits {{handler}}'],
      [`sum by (handler) (rate(bulkhead_vm_pool_misses_total{${sel}}[${RI}]))`, 'misses {{handler}}'],
    ],
  },
);

row('Images');
line(
  { title: 'Pull throughput', unit: 'Bps', targets: [[`sum(rate(bulkhead_image_pull_bytes_total{${sel}}[${RI}]))`, 'bytes/s']] },
  { title: 'Pulls by result', unit: 'ops', targets: [[`sum by (result) (rate(bulkhead_image_pulls_total{${sel}}[${RI}]))`, '{{result}}']] },
  {
    title: 'Pull duration p50 / p99',
    unit: 's',
    targets: [
      [q(0.5, 'bulkhead_image_pull_duration_seconds', 'result'), 'p50 {{result}}'],
      [q(0.99, 'bulkhead_image_pull_duration_seconds', 'result'), 'p99 {{result}}'],
    ],
  },
);

row('CNI');
line(
  {
    title: 'CNI latency p50 / p99 by op',
    unit: 's',
    targets: [
      [q(0.5, 'bulkhead_cni_duration_seconds', 'op'), 'p50 {{op}}'],
      [q(0.99, 'bulkhead_cni_duration_seconds', 'op'), 'p99 {{op}}'],
    ],
  },
  { title: 'CNI failures by op', unit: 'ops', targets: [[`sum by (op) (rate(bulkhead_cni_failures_total{${sel}}[${RI}]))`, '{{op}}']] },
);

row('Daemon process');
line(
  { title: 'Resident memory', unit: 'bytes', targets: [[`bulkhead_process_resident_memory_bytes{${sel}}`, 'RSS {{instance}}']] },
  {
    title: 'Event-loop lag',
    unit: 's',
    targets: [
      [`bulkhead_nodejs_eventloop_lag_p99_seconds{${sel}}`, 'p99 {{instance}}'],
      [`bulkhead_nodejs_eventloop_lag_mean_seconds{${sel}}`, 'mean {{instance}}'],
    ],
  },
  {
    title: 'Open file descriptors',
    targets: [
      [`bulkhead_process_open_fds{${sel}}`, 'open {{instance}}'],
      [`bulkhead_process_max_fds{${sel}}`, 'limit {{instance}}'],
    ],
  },
  { title: 'CPU', unit: 'percentunit', targets: [[`rate(bulkhead_process_cpu_seconds_total{${sel}}[${RI}])`, 'cpu {{instance}}']] },
);

const dashboard = {
  __inputs: [{ name: 'DS_PROMETHEUS', label: 'Prometheus', type: 'datasource', pluginId: 'prometheus', pluginName: 'Prometheus' }],
  uid: 'bulkhead-overview',
  title: 'Bulkhead CRI runtime',
  description: 'Bulkhead (bulkheadd) metrics: CRI RPCs, pods/containers, sandbox start, VM pool, image pulls, CNI, process. See docs/operations.md.',
  tags: ['bulkhead', 'kubernetes', 'cri'],
  timezone: 'browser',
  editable: true,
  graphTooltip: 1,
  refresh: '30s',
  schemaVersion: 39,
  version: 1,
  time: { from: 'now-3h', to: 'now' },
  templating: {
    list: [
      { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, hide: 0 },
      {
        name: 'instance',
        label: 'Node',
        type: 'query',
        datasource: ds,
        query: { query: 'label_values(bulkhead_process_start_time_seconds, instance)', refId: 'instance' },
        definition: 'label_values(bulkhead_process_start_time_seconds, instance)',
        includeAll: true,
        multi: true,
        allValue: '.*',
        current: { text: 'All', value: '$__all' },
        refresh: 2,
        sort: 1,
        hide: 0,
      },
    ],
  },
  annotations: { list: [] },
  panels,
};

const out = join(dirname(fileURLToPath(import.meta.url)), 'bulkhead-dashboard.json');
writeFileSync(out, JSON.stringify(dashboard, null, 2) + '\n');
console.log(`wrote ${out} (${panels.length} panels)`);
