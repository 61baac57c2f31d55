// Bulkhead's Prometheus metrics. Other modules never touch prom-client: they call the small typed
// functions of `metrics` (one process-wide instance), e.g. `metrics.observePull(bytes, s, ok)`.
// Names follow Prometheus conventions: bulkhead_ prefix, base units (_seconds, _bytes), _total for counters.
import * as grpc from '@grpc/grpc-js';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RpcObserver } from './rpc-observer.js';

export const METRIC_PREFIX = 'bulkhead_';

/** One row of the pod subsystem's census: how many pods (or containers) of a handler are in a state. */
export interface PodCount {
  handler: string;
  /** CRI state name, e.g. SANDBOX_READY, CONTAINER_RUNNING. */
  state: string;
  kind: 'pod' | 'container';
  count: number;
}
export type PodCounter = () => PodCount[];

/** RPC latencies: CRI calls range from sub-millisecond (Version) to minutes (PullImage, StopContainer). */
const RPC_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Sandbox start: runc pods ~0.1-1 s, TCG micro-VMs several seconds. */
const START_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120];
const PULL_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const CNI_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class BulkheadMetrics {
  readonly registry = new Registry();
  private readonly podCounters: PodCounter[] = [];
  private processMetrics = false;

  private readonly rpcTotal = new Counter({
    name: 'bulkhead_grpc_requests_total',
    help: 'CRI gRPC requests handled, by service, method and gRPC status code (errors are the non-OK codes).',
    labelNames: ['service', 'method', 'code'] as const,
    registers: [this.registry],
  });
  private readonly rpcErrors = new Counter({
    name: 'bulkhead_grpc_errors_total',
    help: 'CRI gRPC requests that ended with a non-OK status, by service, method and code.',
    labelNames: ['service', 'method', 'code'] as const,
    registers: [this.registry],
  });
  private readonly rpcSeconds = new Histogram({
    name: 'bulkhead_grpc_request_duration_seconds',
    help: 'CRI gRPC request latency, by service and method.',
    labelNames: ['service', 'method'] as const,
    buckets: RPC_BUCKETS,
    registers: [this.registry],
  });
  private readonly pulls = new Counter({
    name: 'bulkhead_image_pulls_total',
    help: 'Image pulls by result (success|failure).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  private readonly pullBytes = new Counter({
    name: 'bulkhead_image_pull_bytes_total',
    help: 'Bytes downloaded from registries by image pulls (blobs actually fetched, not cached ones).',
    registers: [this.registry],
  });
  private readonly pullSeconds = new Histogram({
    name: 'bulkhead_image_pull_duration_seconds',
    help: 'Image pull duration (successful and failed pulls).',
    labelNames: ['result'] as const,
    buckets: PULL_BUCKETS,
    registers: [this.registry],
  });
  private readonly sandboxStart = new Histogram({
    name: 'bulkhead_sandbox_start_duration_seconds',
    help: 'Time from RunPodSandbox start to a ready sandbox, by runtime handler and accelerator (none|kvm|tcg).',
    labelNames: ['handler', 'accelerator'] as const,
    buckets: START_BUCKETS,
    registers: [this.registry],
  });
  private readonly poolSize = new Gauge({
    name: 'bulkhead_vm_pool_size',
    help: 'Pre-booted micro-VMs currently waiting in the warm pool, by handler.',
    labelNames: ['handler'] as const,
    registers: [this.registry],
  });
  private readonly poolHits = new Counter({
    name: 'bulkhead_vm_pool_hits_total',
    help: 'Sandbox starts served by a warm-pool VM, by handler.',
    labelNames: ['handler'] as const,
    registers: [this.registry],
  });
  private readonly poolMisses = new Counter({
    name: 'bulkhead_vm_pool_misses_total',
    help: 'Sandbox starts that found the warm pool empty and booted a VM, by handler.',
    labelNames: ['handler'] as const,
    registers: [this.registry],
  });
  private readonly cniSeconds = new Histogram({
    name: 'bulkhead_cni_duration_seconds',
    help: 'CNI plugin invocation latency, by operation (ADD|DEL|CHECK|STATUS).',
    labelNames: ['op'] as const,
    buckets: CNI_BUCKETS,
    registers: [this.registry],
  });
  private readonly cniFailures = new Counter({
    name: 'bulkhead_cni_failures_total',
    help: 'Failed CNI plugin invocations, by operation.',
    labelNames: ['op'] as const,
    registers: [this.registry],
  });

  constructor() {
    // Census gauges: asked of the pod subsystem at scrape time, so they can never drift from the truth.
    const census = (kind: PodCount['kind']) =>
      function (this: Gauge<'handler' | 'state'>) {
        this.reset();
        for (const row of counters()) if (row.kind === kind) this.inc({ handler: row.handler, state: row.state }, row.count);
      };
    const counters = (): PodCount[] => this.podCounters.flatMap((fn) => safeCall(fn));
    new Gauge({
      name: 'bulkhead_pods',
      help: 'Pod sandboxes known to the runtime, by handler and CRI state.',
      labelNames: ['handler', 'state'] as const,
      registers: [this.registry],
      collect: census('pod'),
    });
    new Gauge({
      name: 'bulkhead_containers',
      help: 'Containers known to the runtime, by handler and CRI state.',
      labelNames: ['handler', 'state'] as const,
      registers: [this.registry],
      collect: census('container'),
    });
  }

  /** RSS, CPU, open fds, event-loop lag, heap, GC (prom-client defaults, bulkhead_ prefixed). Idempotent. */
  enableProcessMetrics(): void {
    if (this.processMetrics) return;
    this.processMetrics = true;
    collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });
  }

  /** One finished RPC; `code` is the grpc-js status number. */
  observeRpc(service: string, method: string, code: grpc.status, seconds: number): void {
    const codeName = grpc.status[code] ?? String(code);
    this.rpcTotal.inc({ service, method, code: codeName });
    if (code !== grpc.status.OK) this.rpcErrors.inc({ service, method, code: codeName });
    this.rpcSeconds.observe({ service, method }, seconds);
  }

  /** The CriServer hook (pkg/grpc/server.ts `observer` option). */
  rpcObserver(): RpcObserver {
    return { onRpc: (service, method, code, seconds) => this.observeRpc(service, method, code, seconds) };
  }

  /** One finished image pull: bytes actually downloaded, wall time, success or failure. */
  observePull(bytes: number, seconds: number, ok: boolean): void {
    const result = ok ? 'success' : 'failure';
    this.pulls.inc({ result });
    if (bytes > 0) this.pullBytes.inc(bytes);
    this.pullSeconds.observe({ result }, seconds);
  }

  /** Bytes as they arrive (for live throughput during long pulls); then call observePull(0, s, ok). */
  addPullBytes(bytes: number): void {
    if (bytes > 0) this.pullBytes.inc(bytes);
  }

  /** A sandbox became ready. accelerator: 'none' for namespace (OCI) pods, 'kvm' | 'tcg' for VMs. */
  observeSandboxStart(handler: string, accelerator: string, seconds: number): void {
    this.sandboxStart.observe({ handler, accelerator }, seconds);
  }

  setVmPoolSize(handler: string, size: number): void {
    this.poolSize.set({ handler }, size);
  }

  /** A sandbox start asked the warm pool for a VM: hit = got one, miss = had to boot. */
  observeVmPool(handler: string, hit: boolean): void {
    (hit ? this.poolHits : this.poolMisses).inc({ handler });
  }

  /** One CNI plugin invocation (op: ADD | DEL | CHECK | STATUS ...). */
  observeCni(op: string, seconds: number, ok: boolean): void {
    this.cniSeconds.observe({ op }, seconds);
    if (!ok) this.cniFailures.inc({ op });
  }

  /** The pod subsystem registers its census once; returns an unregister function. */
  registerPodCounter(fn: PodCounter): () => void {
    this.podCounters.push(fn);
    return () => {
      const i = this.podCounters.indexOf(fn);
      if (i >= 0) this.podCounters.splice(i, 1);
    };
  }

  /** Text exposition format (what /metrics serves). */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

function safeCall(fn: PodCounter): PodCount[] {
  try {
    return fn();
  } catch {
    return []; // a broken census must not break the whole scrape
  }
}

/** The process-wide instance every subsystem reports to. */
export const metrics = new BulkheadMetrics();

/** Shorthand for the pod subsystem: `registerPodCounter(() => rows)`. */
export function registerPodCounter(fn: PodCounter): () => void {
  return metrics.registerPodCounter(fn);
}

/**
 * Groups records into census rows, for the pod subsystem's one-liner:
 *   registerPodCounter(() => podCensus(pods.sandboxes.all(), pods.containers.all()));
 */
export function podCensus(pods: readonly { handler: string; state: string }[], containers: readonly { handler: string; state: string }[] = []): PodCount[] {
  const rows = new Map<string, PodCount>();
  const add = (kind: PodCount['kind'], r: { handler: string; state: string }) => {
    const key = `${kind}\0${r.handler}\0${r.state}`;
    const row = rows.get(key);
    if (row) row.count++;
    else rows.set(key, { kind, handler: r.handler, state: r.state, count: 1 });
  };
  for (const p of pods) add('pod', p);
  for (const c of containers) add('container', c);
  return [...rows.values()];
}

/** Times an async operation: `await timed((s, ok) => metrics.observeCni('ADD', s, ok), () => cni.add(...))`. */
export async function timed<T>(record: (seconds: number, ok: boolean) => void, op: () => Promise<T>): Promise<T> {
  const started = process.hrtime.bigint();
  let ok = false;
  try {
    const r = await op();
    ok = true;
    return r;
  } finally {
    record(Number(process.hrtime.bigint() - started) / 1e9, ok);
  }
}
