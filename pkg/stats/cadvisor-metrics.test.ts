import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type * as cri from '../api/cri-types.js';
import { cgroupStatsV2, readCgroupStats, type CgroupStats } from '../cgroups/stats.js';
import { extraStatsV2, readCgroupExtraStats, parseIoStat, v2FileMap } from '../cgroups/extra-stats.js';
import { readCgroupFiles } from '../agent/cgroup-stats.js';
import { METRIC_DEFS, METRIC_DEF_BY_NAME, METRIC_DESCRIPTORS } from './cadvisor-descriptors.js';
import { containerMetrics, podNetworkMetrics, type ContainerSample } from './cadvisor-metrics.js';
import { parseMountSources, devMajor, devMinor } from './device-names.js';
import { countFds, softOpenFilesLimit } from './proc-fds.js';
import { CTR_PATH, v1Tree, v2Tree } from './test-fixtures.js';

const made: string[] = [];
const track = (d: string) => (made.push(d), d);
afterAll(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

const NOW = 1_700_000_000_123_456_789n;
const POD = { pod: 'web', namespace: 'prod' };
const RESOURCES = {
  cpu_period: '100000',
  cpu_quota: '50000',
  cpu_shares: '512',
  memory_limit_in_bytes: '67108864',
  memory_swap_limit_in_bytes: '134217728',
} as cri.LinuxContainerResources__Output;

function fakeProc(pid: number): string {
  const root = track(mkdtempSync(join(tmpdir(), 'bulkhead-proc-')));
  mkdirSync(join(root, `${pid}/fd`), { recursive: true });
  symlinkSync('/dev/null', join(root, `${pid}/fd/0`));
  symlinkSync('socket:[4242]', join(root, `${pid}/fd/3`));
  symlinkSync('pipe:[7]', join(root, `${pid}/fd/4`));
  writeFileSync(join(root, `${pid}/limits`), 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n');
  return root; // any other pid has exited: its fd dir is missing
}

async function sample(mode: 'v1' | 'v2', over: Partial<ContainerSample> = {}): Promise<ContainerSample> {
  const root = track(mode === 'v1' ? v1Tree() : v2Tree());
  const opts = { root, mode };
  const extra = readCgroupExtraStats(CTR_PATH, opts);
  const proc = fakeProc(extra.procs!.pids[0]!);
  return {
    id: 'c'.repeat(64),
    name: 'app',
    image: 'docker.io/library/busybox:latest',
    startedAtNs: '1699999990000000000',
    resources: RESOURCES,
    cgroup: readCgroupStats(CTR_PATH, opts, () => NOW),
    fromAgent: false,
    extra,
    fs: { device: '/dev/sda1', usedBytes: 4096n, limitBytes: 10n ** 10n, inodesTotal: 65536n, inodesFree: 60000n },
    fds: await countFds(extra.procs!.pids, proc),
    openFilesSoft: await softOpenFilesLimit(extra.procs!.pids[0]!, proc),
    deviceName: (ma, mi) => (ma === 8 && mi === 0 ? '/dev/sda' : `${ma}:${mi}`),
    nowNs: NOW,
    ...over,
  };
}

const NET = [
  { name: 'lo', rxBytes: 1, rxErrors: 0, txBytes: 1, txErrors: 0, rxPackets: 1, rxDropped: 0, txPackets: 1, txDropped: 0 },
  { name: 'eth0', rxBytes: 1046, rxErrors: 1, txBytes: 656, txErrors: 2, rxPackets: 11, rxDropped: 3, txPackets: 8, txDropped: 4 },
];

const value = (ms: cri.Metric[], name: string, ...extra: string[]) => {
  const m = ms.filter((x) => x.name === name && extra.every((e, i) => x.label_values?.[5 + i] === e));
  expect(m, name).toHaveLength(1);
  return m[0]!.value?.value;
};

describe('the descriptor set', () => {
  it('is containerd 2.2\'s cAdvisor set (+ spec_cpu_quota), unique names, base labels first', () => {
    expect(METRIC_DESCRIPTORS).toHaveLength(50);
    expect(new Set(METRIC_DESCRIPTORS.map((d) => d.name)).size).toBe(50);
    for (const d of METRIC_DESCRIPTORS) expect(d.label_keys?.slice(0, 5)).toEqual(['pod', 'namespace', 'container', 'id', 'image']);
  });

  it('every descriptor is emitted for a v1 container or its pod, and every sample is described (both directions)', async () => {
    const ms = [...containerMetrics(POD, await sample('v1')), ...podNetworkMetrics(POD, 'p'.repeat(64), NET, NOW)];
    const emitted = new Set(ms.map((m) => m.name));
    expect([...emitted].sort()).toEqual(METRIC_DEFS.map((d) => d.name).sort());
    const series = new Set<string>();
    for (const m of ms) {
      const def = METRIC_DEF_BY_NAME.get(m.name ?? '')!;
      expect(m.label_values, m.name).toHaveLength(def.labelKeys.length);
      expect(m.metric_type, m.name).toBe(def.type);
      expect(m.value?.value, m.name).toMatch(/^\d+$/);
      const key = `${m.name}{${m.label_values?.join(',')}}`;
      expect(series.has(key), `duplicate series ${key}`).toBe(false); // kubelet's registry rejects a scrape with one
      series.add(key);
    }
  });

  it('v2 emits every container metric too (memory.peak, memory.low, io.stat, pids.max)', async () => {
    const names = new Set(containerMetrics(POD, await sample('v2')).map((m) => m.name));
    const containerDefs = METRIC_DEFS.filter((d) => !d.name.startsWith('container_network_'));
    expect(containerDefs.filter((d) => !names.has(d.name)).map((d) => d.name)).toEqual([]);
  });
});

describe('values', () => {
  it('v1: cgroup readings, spec from the record, fds/sockets from /proc, blkio throttle fallback', async () => {
    const ms = containerMetrics(POD, await sample('v1'));
    expect(ms[0]!.label_values).toEqual(['web', 'prod', 'app', 'c'.repeat(64), 'docker.io/library/busybox:latest']);
    expect(value(ms, 'container_cpu_usage_seconds_total')).toBe('2'); // 2.5 s, floored: CRI values are integers
    expect(value(ms, 'container_cpu_user_seconds_total')).toBe('2');
    expect(value(ms, 'container_cpu_cfs_throttled_seconds_total')).toBe('3');
    expect(value(ms, 'container_cpu_cfs_periods_total')).toBe('10');
    expect(value(ms, 'container_memory_swap')).toBe('4096');
    expect(value(ms, 'container_memory_failcnt')).toBe('3');
    expect(value(ms, 'container_oom_events_total')).toBe('1');
    expect(value(ms, 'container_memory_failures_total', 'pgfault', 'container')).toBe('40');
    expect(value(ms, 'container_memory_failures_total', 'pgmajfault', 'hierarchy')).toBe('2');
    expect(value(ms, 'container_spec_memory_reservation_limit_bytes')).toBe('33554432');
    expect(value(ms, 'container_fs_reads_bytes_total', '/dev/sda')).toBe('4096');
    expect(value(ms, 'container_fs_writes_total', '/dev/sda')).toBe('2');
    expect(value(ms, 'container_blkio_device_usage_total', '/dev/sda', '8', '0', 'Write')).toBe('8192');
    expect(value(ms, 'container_processes')).toBe('2');
    expect(value(ms, 'container_threads')).toBe('3');
    expect(value(ms, 'container_threads_max')).toBe('0'); // "max": the help text's infinity
    expect(value(ms, 'container_file_descriptors')).toBe('3');
    expect(value(ms, 'container_sockets')).toBe('1');
    expect(value(ms, 'container_ulimits_soft', 'max_open_files')).toBe('1024');
    expect(value(ms, 'container_spec_memory_limit_bytes')).toBe('67108864');
    expect(value(ms, 'container_spec_cpu_quota')).toBe('50000');
    expect(value(ms, 'container_start_time_seconds')).toBe('1699999990');
    expect(value(ms, 'container_last_seen')).toBe('1700000000');
    expect(value(ms, 'container_fs_usage_bytes', '/dev/sda1')).toBe('4096');
  });

  it('v2: cpu.stat usec, memory.events max as failcnt, io.stat per device, memory.low', async () => {
    const ms = containerMetrics(POD, await sample('v2'));
    expect(value(ms, 'container_cpu_usage_seconds_total')).toBe('3');
    expect(value(ms, 'container_cpu_cfs_throttled_periods_total')).toBe('5');
    expect(value(ms, 'container_cpu_cfs_throttled_seconds_total')).toBe('1');
    expect(value(ms, 'container_memory_failcnt')).toBe('4');
    expect(value(ms, 'container_memory_max_usage_bytes')).toBe('3000000');
    expect(value(ms, 'container_memory_kernel_usage')).toBe('65536');
    expect(value(ms, 'container_memory_failures_total', 'pgfault', 'container')).toBe('70'); // a leaf cgroup
    expect(value(ms, 'container_fs_reads_total', '/dev/sda')).toBe('4');
    expect(value(ms, 'container_threads_max')).toBe('1024');
    expect(value(ms, 'container_spec_memory_reservation_limit_bytes')).toBe('0');
  });

  it('values the host does not have are left out, never sent as 0', async () => {
    const root = track(v2Tree({ [`${CTR_PATH}/child/cgroup.procs`]: '' }));
    for (const f of ['memory.peak', 'memory.swap.current', 'io.stat', 'pids.max']) rmSync(join(root, CTR_PATH, f));
    writeFileSync(join(root, CTR_PATH, 'memory.stat'), 'anon 1\nfile 2\ninactive_file 0\npgfault 5\npgmajfault 0\n');
    const opts = { root, mode: 'v2' as const };
    const s = await sample('v2', {
      cgroup: readCgroupStats(CTR_PATH, opts, () => NOW),
      extra: readCgroupExtraStats(CTR_PATH, opts),
      resources: undefined,
      startedAtNs: '0',
      fds: undefined,
      fs: undefined,
    });
    const names = new Set(containerMetrics(POD, s).map((m) => m.name));
    for (const gone of [
      'container_memory_max_usage_bytes',
      'container_memory_swap',
      'container_memory_kernel_usage',
      'container_fs_reads_total',
      'container_threads_max',
      'container_file_descriptors',
      'container_start_time_seconds',
      'container_spec_memory_limit_bytes',
      'container_fs_usage_bytes',
    ])
      expect(names.has(gone), gone).toBe(false);
    const f = containerMetrics(POD, s).filter((m) => m.name === 'container_memory_failures_total');
    expect(f.map((m) => m.label_values?.[6])).toEqual(['hierarchy', 'hierarchy']); // has a child cgroup: own count unknown
  });

  it('a micro-VM container (guest agent stats): only what the agent measures, plus record-derived values', async () => {
    const agent: CgroupStats = {
      timestampNs: NOW,
      cpu: { usageNs: 5_000_000_000n },
      memory: { usageBytes: 10, workingSetBytes: 8, rssBytes: 6, cacheBytes: 0, pageFaults: 0, majorPageFaults: 0, oomKills: 0, limitHits: 0 },
      pids: { current: 4 },
    };
    const ms = containerMetrics(POD, await sample('v1', { cgroup: agent, fromAgent: true, extra: undefined, fds: undefined, openFilesSoft: undefined, fs: undefined }));
    expect(ms.map((m) => m.name).sort()).toEqual(
      [
        'container_cpu_usage_seconds_total',
        'container_last_seen',
        'container_memory_rss',
        'container_memory_usage_bytes',
        'container_memory_working_set_bytes',
        'container_oom_events_total',
        'container_spec_cpu_period',
        'container_spec_cpu_quota',
        'container_spec_cpu_shares',
        'container_spec_memory_limit_bytes',
        'container_spec_memory_swap_limit_bytes',
        'container_start_time_seconds',
        'container_threads',
      ].sort(),
    );
  });

  it('a micro-VM container whose agent sends its cgroup files: parsed like a host v2 cgroup', async () => {
    const root = track(
      v2Tree({
        [`${CTR_PATH}/memory.peak`]: `${'9'.repeat(70_000)}\n`, // oversized: dropped by the agent
        [`${CTR_PATH}/cgroup.procs`]: '',
        [`${CTR_PATH}/payload/cgroup.procs`]: '201\n202\n', // crun ran them in a child cgroup
      }),
    );
    const files = readCgroupFiles(join(root, CTR_PATH));
    expect(Object.keys(files).sort()).toEqual(
      ['cgroup.procs', 'cpu.stat', 'io.stat', 'memory.current', 'memory.events', 'memory.low', 'memory.max', 'memory.stat', 'memory.swap.current', 'pids.current', 'pids.max'].sort(),
    );
    // the guest parser agrees with the host's v2 reader (stats.ts) on the same files
    expect(cgroupStatsV2(v2FileMap(files), NOW)).toEqual(readCgroupStats(CTR_PATH, { root, mode: 'v2' }, () => NOW));
    const extra = extraStatsV2(v2FileMap(files));
    expect(extra.memory?.maxUsageBytes).toBeUndefined();
    expect(extra.memory?.faultsContainer).toBeUndefined(); // no directory listing: own count unknown
    expect(extra.procs).toEqual({ total: 2, pids: [201, 202] });
    const ms = containerMetrics(POD, await sample('v2', { cgroup: cgroupStatsV2(v2FileMap(files), NOW), extra, fds: undefined, openFilesSoft: undefined }));
    const names = new Set(ms.map((m) => m.name));
    for (const n of ['container_cpu_user_seconds_total', 'container_memory_cache', 'container_memory_failcnt', 'container_fs_writes_total', 'container_processes', 'container_threads_max'])
      expect(names.has(n), n).toBe(true);
    for (const n of ['container_file_descriptors', 'container_sockets', 'container_ulimits_soft', 'container_memory_max_usage_bytes']) expect(names.has(n), n).toBe(false);
  });

  it('pod network: container="POD", id = sandbox, lo left out', () => {
    const ms = podNetworkMetrics(POD, 'p'.repeat(64), NET, NOW);
    expect(ms).toHaveLength(8);
    expect(ms.every((m) => m.label_values?.join('|') === `web|prod|POD|${'p'.repeat(64)}||eth0`)).toBe(true);
    expect(value(ms, 'container_network_receive_packets_dropped_total', 'eth0')).toBe('3');
    expect(value(ms, 'container_network_transmit_packets_total', 'eth0')).toBe('8');
  });
});

describe('readers', () => {
  it('parseIoStat skips junk lines; parseMountSources maps maj:min to the mount source', () => {
    expect(parseIoStat('8:16 rbytes=1 wbytes=2 rios=3 wios=4\n\nbad\n')).toEqual([{ major: 8, minor: 16, readBytes: 1, writeBytes: 2, reads: 3, writes: 4 }]);
    const mi = '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n23 22 0:21 / /proc rw - proc proc rw\n';
    expect(parseMountSources(mi)).toEqual(new Map([['8:1', '/dev/sda1'], ['0:21', 'proc']]));
    const dev = (259 << 8) | 3 | (0x12 << 20); // major 259, minor 0x1203
    expect([devMajor(dev), devMinor(dev)]).toEqual([259, 0x1203]);
  });

  it('cgroup.procs past the cap: total counts every pid, the list stops at PROCS_CAP', () => {
    const pids = Array.from({ length: 5000 }, (_, i) => i + 1).join('\n');
    const root = track(v2Tree({ [`${CTR_PATH}/cgroup.procs`]: `${pids}\n` }));
    const p = readCgroupExtraStats(CTR_PATH, { root, mode: 'v2' }).procs!;
    expect(p.total).toBe(5000);
    expect(p.pids).toHaveLength(4096);
  });
});

describe('withPodSlot', () => {
  it('runs at most MAX_PODS_IN_FLIGHT pod collections at once and runs them all', async () => {
    const { withPodSlot, MAX_PODS_IN_FLIGHT } = await import('./pod-metrics.js');
    let now = 0;
    let peak = 0;
    const done = await Promise.all(
      Array.from({ length: 35 }, (_, i) =>
        withPodSlot(async () => {
          peak = Math.max(peak, ++now);
          await new Promise((r) => setTimeout(r, 1 + (i % 3)));
          now--;
          return i;
        }),
      ),
    );
    expect(done).toEqual(Array.from({ length: 35 }, (_, i) => i));
    expect(peak).toBe(MAX_PODS_IN_FLIGHT);
    expect(await withPodSlot(async () => 'free again')).toBe('free again');
  });
});
