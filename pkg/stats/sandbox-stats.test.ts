// A runtime that reports its pods' own usage (VM pods: QEMU + virtiofsd from /proc) is asked for
// the pod level of PodSandboxStats instead of the pod cgroup.
import { describe, expect, it } from 'vitest';
import type { ContainerManager } from '../container/container-manager.js';
import type { SandboxManager } from '../sandbox/sandbox-manager.js';
import type { PodRuntime } from '../runtime/pod-runtime.js';
import type { SandboxRecord } from '../store/records.js';
import type { CgroupStats } from '../cgroups/stats.js';
import { StatsService } from './stats-service.js';

const sb = { id: 'p1', handler: 'microvm', cgroupParent: '/nonexistent-bulkhead-test', namespaces: {}, state: 'SANDBOX_READY', config: { metadata: {}, labels: {}, annotations: {} } } as unknown as SandboxRecord;

function service(sandboxStats?: (s: SandboxRecord) => Promise<CgroupStats | undefined>): StatsService {
  const rt = { kind: 'vm', controller: { ...(sandboxStats ? { sandboxStats } : {}) }, tasks: {} } as unknown as PodRuntime;
  const sandboxes = { runtimes: new Map([['microvm', rt]]) } as unknown as SandboxManager;
  const containers = { inPod: () => [] } as unknown as ContainerManager;
  return new StatsService(sandboxes, containers);
}

describe('pod-level stats from the runtime', () => {
  it('uses the runtime figures (VMM usage) for cpu, memory and processes', async () => {
    const vmm: CgroupStats = {
      timestampNs: 1n,
      cpu: { usageNs: 7_000_000_000n },
      memory: { usageBytes: 400 << 20, workingSetBytes: 400 << 20, rssBytes: 400 << 20, cacheBytes: 0, pageFaults: 0, majorPageFaults: 0, oomKills: 0, limitHits: 0 },
      pids: { current: 3 },
    };
    const st = await service(async () => vmm).podStats(sb);
    expect(st.linux?.cpu?.usage_core_nano_seconds?.value).toBe('7000000000');
    expect(st.linux?.memory?.working_set_bytes?.value).toBe(String(400 << 20));
    expect(st.linux?.process?.process_count?.value).toBe('3');
  });

  it('falls back to the pod cgroup when the runtime has nothing (VM gone) or fails', async () => {
    const none = await service(async () => undefined).podStats(sb);
    expect(none.linux?.memory?.working_set_bytes?.value).toBe('0');
    const failing = await service(async () => Promise.reject(new Error('x'))).podStats(sb);
    expect(failing.linux?.cpu?.usage_core_nano_seconds?.value).toBe('0');
  });
});
