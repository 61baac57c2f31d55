// Helpers shared by the pkg/stats and pkg/cgroups metrics unit tests: fixture cgroup trees (v1
// hierarchies and one cgroup2 dir) in a temp dir, one container cgroup at kubepods/pod1/ctr in each.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const CTR_PATH = 'kubepods/pod1/ctr';

function writeTree(root: string, files: Record<string, string>): void {
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), text);
  }
}

export function v1Tree(over: Record<string, string> = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'bulkhead-metrics-v1-'));
  const c = (ctrl: string, f: string) => `${ctrl}/${CTR_PATH}/${f}`;
  writeTree(root, {
    [c('cpuacct', 'cpuacct.usage')]: '2500000000\n',
    [c('cpuacct', 'cpuacct.usage_user')]: '2000000000\n',
    [c('cpuacct', 'cpuacct.usage_sys')]: '500000000\n',
    [c('cpu', 'cpu.stat')]: 'nr_periods 10\nnr_throttled 2\nthrottled_time 3000000000\n',
    [c('cpu', 'cgroup.procs')]: '101\n102\n',
    [c('memory', 'memory.usage_in_bytes')]: '1000000\n',
    [c('memory', 'memory.limit_in_bytes')]: '67108864\n',
    [c('memory', 'memory.stat')]:
      'cache 300000\nrss 500000\nmapped_file 4096\npgfault 40\npgmajfault 1\ntotal_cache 300000\ntotal_rss 500000\ntotal_mapped_file 4096\ntotal_pgfault 50\ntotal_pgmajfault 2\ntotal_inactive_file 100000\ntotal_active_file 8192\n',
    [c('memory', 'memory.oom_control')]: 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n',
    [c('memory', 'memory.failcnt')]: '3\n',
    [c('memory', 'memory.memsw.usage_in_bytes')]: '1004096\n',
    [c('memory', 'memory.kmem.usage_in_bytes')]: '20480\n',
    [c('memory', 'memory.max_usage_in_bytes')]: '2000000\n',
    [c('memory', 'memory.soft_limit_in_bytes')]: '33554432\n',
    [c('memory', 'cgroup.procs')]: '101\n102\n',
    [c('pids', 'pids.current')]: '3\n',
    [c('pids', 'pids.max')]: 'max\n',
    [c('pids', 'cgroup.procs')]: '101\n102\n',
    [c('blkio', 'blkio.io_service_bytes_recursive')]: 'Total 0\n',
    [c('blkio', 'blkio.io_serviced_recursive')]: 'Total 0\n',
    [c('blkio', 'blkio.throttle.io_service_bytes_recursive')]: '8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Total 12288\nTotal 12288\n',
    [c('blkio', 'blkio.throttle.io_serviced_recursive')]: '8:0 Read 1\n8:0 Write 2\n8:0 Total 3\nTotal 3\n',
    ...over,
  });
  return root;
}

export function v2Tree(over: Record<string, string> = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'bulkhead-metrics-v2-'));
  const c = (f: string) => `${CTR_PATH}/${f}`;
  writeTree(root, {
    'cgroup.controllers': 'cpuset cpu io memory pids\n',
    [c('cpu.stat')]: 'usage_usec 3000000\nuser_usec 2000000\nsystem_usec 1000000\nnr_periods 20\nnr_throttled 5\nthrottled_usec 1500000\n',
    [c('memory.current')]: '2000000\n',
    [c('memory.max')]: '134217728\n',
    [c('memory.stat')]: 'anon 800000\nfile 600000\nkernel 65536\nfile_mapped 8192\nactive_file 200000\ninactive_file 400000\npgfault 70\npgmajfault 3\n',
    [c('memory.events')]: 'low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n',
    [c('memory.swap.current')]: '0\n',
    [c('memory.peak')]: '3000000\n',
    [c('memory.low')]: '0\n',
    [c('io.stat')]: '8:0 rbytes=1024 wbytes=2048 rios=4 wios=8 dbytes=0 dios=0\n',
    [c('pids.current')]: '2\n',
    [c('pids.max')]: '1024\n',
    [c('cgroup.procs')]: '201\n',
    ...over,
  });
  return root;
}
