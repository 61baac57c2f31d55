// ListMetricDescriptors / ListPodSandboxMetrics against a private daemon: a runc pod with a memory
// limit and a container that burns cpu, and a micro-VM pod (guest agent stats). Every sample's
// name is described and its label values match the descriptor's label_keys in number (kubelet's
// collector rejects a sample otherwise); a few values are checked for plausibility.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { criClient, type CriClient } from './lib/cri-grpc.js';
import { ownDaemon, VM_HANDLERS_TOML, type OwnDaemon } from './lib/own-daemon.js';

const IMAGE = 'docker.io/library/busybox:latest';
const LIMIT = 64 * 1024 * 1024;
const isRoot = process.getuid?.() === 0;
const hasQemu = existsSync('/usr/bin/qemu-system-x86_64');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Metric {
  name: string;
  metric_type: string;
  label_values: string[];
  value: { value: string } | null;
}
interface PodMetrics {
  pod_sandbox_id: string;
  metrics: Metric[];
  container_metrics: { container_id: string; metrics: Metric[] }[];
}

describe.skipIf(!isRoot)('pod metrics (cAdvisor set)', () => {
  let d: OwnDaemon;
  let cri: CriClient;
  let keys: Map<string, string[]>;
  let n = 0;

  const runPod = async (name: string, handler = '') => {
    const f = join(d.dir, `${name}.json`);
    writeFileSync(f, JSON.stringify({ metadata: { name, namespace: 'e2e', uid: `${name}-uid`, attempt: 0 }, log_directory: d.logDir, linux: {} }));
    const id = (await d.crictl('runp', ...(handler ? ['--runtime', handler] : []), f)).trim();
    return { id, config: f };
  };
  const runContainer = async (pod: { id: string; config: string }, command: string[], linux: Record<string, unknown> = {}) => {
    const f = join(d.dir, `c${++n}.json`);
    writeFileSync(f, JSON.stringify({ metadata: { name: `c${n}` }, image: { image: IMAGE }, command, log_path: `c${n}.log`, linux }));
    const id = (await d.crictl('create', pod.id, f, pod.config)).trim();
    await d.crictl('start', id);
    return id;
  };
  const podMetrics = async (podId: string) => {
    const r = await cri.call<{ pod_metrics: PodMetrics[] }>('ListPodSandboxMetrics', {});
    return r.pod_metrics.find((p) => p.pod_sandbox_id === podId);
  };
  const one = (ms: Metric[], name: string) => {
    const m = ms.filter((x) => x.name === name);
    expect(m, name).toHaveLength(1);
    return Number(m[0]!.value?.value);
  };
  const checkShape = (pm: PodMetrics) => {
    for (const m of [...pm.metrics, ...pm.container_metrics.flatMap((c) => c.metrics)]) {
      expect(keys.has(m.name), `${m.name} is described`).toBe(true);
      expect(m.label_values, m.name).toHaveLength(keys.get(m.name)!.length);
      expect(['COUNTER', 'GAUGE']).toContain(m.metric_type);
    }
  };

  beforeAll(async () => {
    d = ownDaemon('metrics', { extraToml: VM_HANDLERS_TOML });
    await d.start();
    await d.crictl('pull', IMAGE);
    cri = criClient(d.sock);
    const r = await cri.call<{ descriptors: { name: string; label_keys: string[] }[] }>('ListMetricDescriptors', {});
    keys = new Map(r.descriptors.map((x) => [x.name, x.label_keys]));
    console.log(`ListMetricDescriptors: ${keys.size} descriptors`);
  });
  afterAll(async () => {
    cri?.close();
    await d?.cleanup();
  });

  it('describes the cAdvisor container set with its label keys', () => {
    expect(keys.size).toBe(50);
    expect(keys.get('container_network_receive_bytes_total')).toEqual(['pod', 'namespace', 'container', 'id', 'image', 'interface']);
    expect(keys.get('container_memory_failures_total')).toEqual(['pod', 'namespace', 'container', 'id', 'image', 'failure_type', 'scope']);
  });

  it('runc pod: spec memory limit as requested, cpu seconds after burning cpu, processes, fds, network', async () => {
    const pod = await runPod('metrics-runc');
    // Burns until stopped, at most one core (the quota): a fixed burn of a few seconds got ~0.2 s of
    // cpu here, the pod cgroup's default shares losing to other helpers' TCG VMs.
    const id = await runContainer(pod, ['sh', '-c', 'while :; do :; done'], { resources: { memory_limit_in_bytes: LIMIT, cpu_shares: 1024, cpu_period: 100000, cpu_quota: 100000 } });
    let pm: PodMetrics | undefined;
    let cpu = 0;
    for (let i = 0; i < 120 && cpu < 1; i++) {
      await sleep(500);
      pm = await podMetrics(pod.id);
      const c = pm?.container_metrics.find((x) => x.container_id === id);
      cpu = c ? Number(c.metrics.find((m) => m.name === 'container_cpu_usage_seconds_total')?.value?.value ?? 0) : 0;
    }
    await d.crictl('stop', '-t', '0', id).catch(() => undefined);
    if (cpu < 1) {
      const c = pm?.container_metrics.find((x) => x.container_id === id);
      console.log(c?.metrics.filter((m) => m.name.startsWith('container_cpu')).map((m) => `${m.name}=${m.value?.value}`));
      console.log(await d.crictl('logs', id).catch((e: Error) => e.message));
      console.log(await d.crictl('inspect', id).catch((e: Error) => e.message));
    }
    expect(cpu).toBeGreaterThanOrEqual(1);
    checkShape(pm!);
    const ms = pm!.container_metrics.find((x) => x.container_id === id)!.metrics;
    const names = new Set(ms.map((m) => m.name));
    const absent = [...keys.keys()].filter((k) => !names.has(k) && !k.startsWith('container_network_'));
    console.log(`runc container: ${names.size} distinct metric names, ${ms.length} samples; pod-level: ${pm!.metrics.length}; not on this host: ${absent.join(' ')}`);
    expect(ms[0]!.label_values.slice(0, 4)).toEqual(['metrics-runc', 'e2e', 'c1', id]);
    expect(one(ms, 'container_spec_memory_limit_bytes')).toBe(LIMIT);
    expect([one(ms, 'container_spec_cpu_shares'), one(ms, 'container_spec_cpu_period'), one(ms, 'container_spec_cpu_quota')]).toEqual([1024, 100000, 100000]);
    expect(one(ms, 'container_processes')).toBeGreaterThanOrEqual(1);
    expect(one(ms, 'container_threads')).toBeGreaterThanOrEqual(1);
    expect(one(ms, 'container_file_descriptors')).toBeGreaterThanOrEqual(3);
    expect(one(ms, 'container_memory_working_set_bytes')).toBeGreaterThan(0);
    expect(one(ms, 'container_start_time_seconds')).toBeGreaterThan(Date.now() / 1000 - 600);
    expect(one(ms, 'container_last_seen')).toBeGreaterThanOrEqual(one(ms, 'container_start_time_seconds'));
    for (const n of ['container_cpu_user_seconds_total', 'container_memory_cache', 'container_memory_failcnt', 'container_fs_usage_bytes', 'container_fs_limit_bytes'])
      expect(names.has(n), n).toBe(true);
    const rx = pm!.metrics.filter((m) => m.name === 'container_network_receive_packets_total');
    expect(rx.length).toBeGreaterThan(0);
    expect(rx[0]!.label_values.slice(2, 4)).toEqual(['POD', pod.id]);
  });

  it.skipIf(!hasQemu || process.env.METRICS_SKIP_VM === '1')('micro-VM pod: the guest cgroup\'s files from the agent, the spec from the record', async () => {
    const pod = await runPod('metrics-vm', 'microvm');
    const id = await runContainer(pod, ['sh', '-c', 'timeout 4 yes > /dev/null; sleep 1000'], { resources: { memory_limit_in_bytes: LIMIT } });
    let pm: PodMetrics | undefined;
    let ms: Metric[] = [];
    for (let i = 0; i < 60 && !ms.some((m) => m.name === 'container_cpu_usage_seconds_total' && Number(m.value?.value) >= 1); i++) {
      await sleep(1000);
      pm = await podMetrics(pod.id);
      ms = pm?.container_metrics.find((x) => x.container_id === id)?.metrics ?? [];
    }
    checkShape(pm!);
    const names = new Set(ms.map((m) => m.name));
    console.log(`vm container: ${names.size} distinct metric names: ${[...names].sort().join(' ')}`);
    expect(one(ms, 'container_cpu_usage_seconds_total')).toBeGreaterThanOrEqual(1);
    expect(one(ms, 'container_spec_memory_limit_bytes')).toBe(LIMIT);
    expect(one(ms, 'container_memory_working_set_bytes')).toBeGreaterThan(0);
    // the agent's cgroup_files: parsed like a host v2 cgroup
    for (const n of ['container_memory_cache', 'container_memory_failcnt', 'container_cpu_user_seconds_total', 'container_processes', 'container_cpu_cfs_periods_total'])
      expect(names.has(n), n).toBe(true);
    expect(one(ms, 'container_processes')).toBeGreaterThanOrEqual(1);
    // guest pids mean nothing in the host's /proc: left out rather than sent as 0
    for (const n of ['container_file_descriptors', 'container_sockets', 'container_ulimits_soft']) expect(names.has(n), n).toBe(false);
  });
});
