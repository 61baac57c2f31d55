import { describe, expect, test } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { BulkheadMetrics, podCensus, timed } from './registry.js';
import { parseExposition, sumSamples } from './exposition.js';

async function scrape(m: BulkheadMetrics) {
  return parseExposition(await m.text());
}

describe('bulkhead metrics exposition', () => {
  test('every metric family is bulkhead_-prefixed, typed, and follows unit/suffix conventions', async () => {
    const m = new BulkheadMetrics();
    m.enableProcessMetrics();
    const fams = await scrape(m);
    for (const f of fams.values()) {
      expect(f.name).toMatch(/^bulkhead_[a-z0-9_]+$/);
      expect(f.type).toMatch(/^(counter|gauge|histogram|summary)$/);
      if (f.type === 'counter') expect(f.name).toMatch(/_total$/);
      if (f.type === 'histogram') expect(f.name).toMatch(/_seconds$/);
    }
    for (const name of [
      'bulkhead_grpc_requests_total',
      'bulkhead_grpc_errors_total',
      'bulkhead_grpc_request_duration_seconds',
      'bulkhead_pods',
      'bulkhead_containers',
      'bulkhead_image_pulls_total',
      'bulkhead_image_pull_bytes_total',
      'bulkhead_image_pull_duration_seconds',
      'bulkhead_sandbox_start_duration_seconds',
      'bulkhead_vm_pool_size',
      'bulkhead_vm_pool_hits_total',
      'bulkhead_vm_pool_misses_total',
      'bulkhead_cni_duration_seconds',
      'bulkhead_cni_failures_total',
      'bulkhead_process_resident_memory_bytes',
      'bulkhead_process_open_fds',
      'bulkhead_nodejs_eventloop_lag_seconds',
    ]) {
      expect(fams.has(name), name).toBe(true);
    }
    expect(sumSamples(fams.get('bulkhead_process_resident_memory_bytes'))).toBeGreaterThan(1e6);
  });

  test('RPC counts, error codes and latency histogram carry service/method/code labels', async () => {
    const m = new BulkheadMetrics();
    const obs = m.rpcObserver();
    obs.onRpc('RuntimeService', 'Version', grpc.status.OK, 0.002);
    obs.onRpc('RuntimeService', 'Version', grpc.status.OK, 0.003);
    obs.onRpc('RuntimeService', 'Attach', grpc.status.UNIMPLEMENTED, 0.001);
    obs.onRpc('ImageService', 'PullImage', grpc.status.NOT_FOUND, 1.5);
    const fams = await scrape(m);
    const total = fams.get('bulkhead_grpc_requests_total')!;
    expect(total.samples).toContainEqual({
      name: 'bulkhead_grpc_requests_total',
      labels: { service: 'RuntimeService', method: 'Version', code: 'OK' },
      value: 2,
    });
    expect(sumSamples(total, { code: 'UNIMPLEMENTED' })).toBe(1);
    const errors = fams.get('bulkhead_grpc_errors_total')!;
    expect(sumSamples(errors)).toBe(2);
    expect(sumSamples(errors, { method: 'PullImage', code: 'NOT_FOUND' })).toBe(1);
    expect(sumSamples(errors, { code: 'OK' })).toBe(0);
    const lat = fams.get('bulkhead_grpc_request_duration_seconds')!;
    expect(lat.type).toBe('histogram');
    expect(sumSamples(lat, { method: 'Version' }, 'bulkhead_grpc_request_duration_seconds_count')).toBe(2);
    expect(lat.samples.find((s) => s.name.endsWith('_bucket') && s.labels.method === 'PullImage' && s.labels.le === '1')?.value).toBe(0);
    expect(lat.samples.find((s) => s.name.endsWith('_bucket') && s.labels.method === 'PullImage' && s.labels.le === '2.5')?.value).toBe(1);
    expect(lat.samples.every((s) => !('code' in s.labels))).toBe(true);
  });

  test('pods and containers come from the registered census at scrape time', async () => {
    const m = new BulkheadMetrics();
    let running = 2;
    const unregister = m.registerPodCounter(() => [
      { kind: 'pod', handler: 'runc', state: 'SANDBOX_READY', count: 3 },
      { kind: 'pod', handler: 'microvm', state: 'SANDBOX_NOTREADY', count: 1 },
      { kind: 'container', handler: 'runc', state: 'CONTAINER_RUNNING', count: running },
    ]);
    m.registerPodCounter(() => {
      throw new Error('broken census is skipped');
    });
    let fams = await scrape(m);
    expect(sumSamples(fams.get('bulkhead_pods'), { handler: 'runc', state: 'SANDBOX_READY' })).toBe(3);
    expect(sumSamples(fams.get('bulkhead_pods'))).toBe(4);
    expect(sumSamples(fams.get('bulkhead_containers'), { state: 'CONTAINER_RUNNING' })).toBe(2);
    running = 0;
    fams = await scrape(m);
    expect(sumSamples(fams.get('bulkhead_containers'))).toBe(0);
    unregister();
    fams = await scrape(m);
    expect(fams.get('bulkhead_pods')!.samples).toHaveLength(0);
  });

  test('podCensus groups records by kind, handler and state', () => {
    const rows = podCensus(
      [{ handler: 'runc', state: 'SANDBOX_READY' }, { handler: 'runc', state: 'SANDBOX_READY' }, { handler: 'microvm', state: 'SANDBOX_NOTREADY' }],
      [{ handler: 'runc', state: 'CONTAINER_RUNNING' }],
    );
    expect(rows).toEqual([
      { kind: 'pod', handler: 'runc', state: 'SANDBOX_READY', count: 2 },
      { kind: 'pod', handler: 'microvm', state: 'SANDBOX_NOTREADY', count: 1 },
      { kind: 'container', handler: 'runc', state: 'CONTAINER_RUNNING', count: 1 },
    ]);
  });

  test('pulls, sandbox starts, pool and CNI', async () => {
    const m = new BulkheadMetrics();
    m.observePull(1000, 0.2, true);
    m.addPullBytes(500);
    m.observePull(0, 3, false);
    m.observeSandboxStart('microvm', 'tcg', 4.2);
    m.observeSandboxStart('runc', 'none', 0.3);
    m.setVmPoolSize('microvm', 2);
    m.observeVmPool('microvm', true);
    m.observeVmPool('microvm', false);
    m.observeVmPool('microvm', true);
    m.observeCni('ADD', 0.05, true);
    await expect(timed((s, ok) => m.observeCni('DEL', s, ok), async () => Promise.reject(new Error('plugin failed')))).rejects.toThrow();
    const f = await scrape(m);
    expect(sumSamples(f.get('bulkhead_image_pulls_total'), { result: 'success' })).toBe(1);
    expect(sumSamples(f.get('bulkhead_image_pulls_total'), { result: 'failure' })).toBe(1);
    expect(sumSamples(f.get('bulkhead_image_pull_bytes_total'))).toBe(1500);
    expect(sumSamples(f.get('bulkhead_image_pull_duration_seconds'), {}, 'bulkhead_image_pull_duration_seconds_count')).toBe(2);
    expect(sumSamples(f.get('bulkhead_sandbox_start_duration_seconds'), { handler: 'microvm', accelerator: 'tcg' }, 'bulkhead_sandbox_start_duration_seconds_sum')).toBeCloseTo(4.2);
    expect(sumSamples(f.get('bulkhead_vm_pool_size'), { handler: 'microvm' })).toBe(2);
    expect(sumSamples(f.get('bulkhead_vm_pool_hits_total'))).toBe(2);
    expect(sumSamples(f.get('bulkhead_vm_pool_misses_total'))).toBe(1);
    expect(sumSamples(f.get('bulkhead_cni_duration_seconds'), { op: 'DEL' }, 'bulkhead_cni_duration_seconds_count')).toBe(1);
    expect(sumSamples(f.get('bulkhead_cni_failures_total'), { op: 'DEL' })).toBe(1);
    expect(sumSamples(f.get('bulkhead_cni_failures_total'), { op: 'ADD' })).toBe(0);
  });
});

describe('exposition parser', () => {
  test('escaped label values, +Inf, timestamps; malformed input throws', () => {
    const f = parseExposition('# TYPE x counter\nx{a="q\\"uo,te",b="n\\\\l"} 3 1700000000\ny +Inf\n');
    expect(f.get('x')!.samples[0]).toEqual({ name: 'x', labels: { a: 'q"uo,te', b: 'n\\l' }, value: 3 });
    expect(f.get('y')!.samples[0]!.value).toBe(Infinity);
    expect(() => parseExposition('x{a=b} 1')).toThrow(/bad labels/);
    expect(() => parseExposition('not a metric line at all')).toThrow(/malformed/);
  });
});
