// Kubelet bench: kubelet's pod cgroup stays as kubelet sized it. A Burstable pod with one
// memory/CPU-limited container and one unlimited container gets no pod-level limit from kubelet
// (it sets one only when every container declares it); the runtime must not write the partial sum
// of the sandbox resources (64 MiB here) into kubelet's cgroup.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, createNamespace, createPod, deleteNamespace, enabled, ensureRuntimeClasses, podSpec, running, runtimeName, shContainer, waitForPod, type Cluster } from './lib/cluster.js';

// e2e/cluster/up.sh: cgroupRoot /bulkhead-kcluster, cgroupsPerQOS, cgroupfs driver.
const CGROUP_ROOT = process.env.CLUSTER_CGROUP_ROOT ?? '/bulkhead-kcluster';
const V1 = existsSync('/sys/fs/cgroup/memory');
const LIMIT = 64 * 1024 * 1024;

function podDir(controller: 'memory' | 'cpu', uid: string): string {
  const rel = join(CGROUP_ROOT, 'kubepods', 'burstable', `pod${uid}`);
  return V1 ? join('/sys/fs/cgroup', controller, rel) : join('/sys/fs/cgroup', rel);
}

const read = (p: string): string => readFileSync(p, 'utf8').trim();

describe.skipIf(!enabled)(`kubelet + ${runtimeName}: pod cgroup`, () => {
  let c: Cluster;
  let ns: string;
  let uid: string;

  beforeAll(async () => {
    c = connect();
    await ensureRuntimeClasses();
    ns = await createNamespace(c, 'kubelet-podcg');
    const pod = await createPod(
      c,
      ns,
      podSpec(
        'burstable',
        [
          shContainer('limited', 'sleep 3600', { resources: { requests: { memory: '32Mi', cpu: '50m' }, limits: { memory: '64Mi', cpu: '200m' } } }),
          shContainer('unlimited', 'sleep 3600'),
        ],
        { runtimeClassName: 'runc' },
      ),
    );
    uid = pod.metadata!.uid!;
    await waitForPod(c, ns, 'burstable', 'Running', running);
  });
  afterAll(async () => {
    if (ns) await deleteNamespace(c, ns);
  });

  it('[handler runc] the Burstable pod cgroup has no memory or CPU limit, the limited container has its own', () => {
    const mem = podDir('memory', uid);
    const cpu = podDir('cpu', uid);
    if (V1) {
      expect(Number(read(join(mem, 'memory.limit_in_bytes')))).toBeGreaterThan(2 ** 60);
      expect(read(join(cpu, 'cpu.cfs_quota_us'))).toBe('-1');
      // kubelet sizes the container cgroups' parent from requests (shares), not us.
      const limits = readdirSync(mem, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => Number(read(join(mem, d.name, 'memory.limit_in_bytes'))));
      expect(limits).toContain(LIMIT);
    } else {
      expect(read(join(mem, 'memory.max'))).toBe('max');
      expect(read(join(cpu, 'cpu.max')).split(' ')[0]).toBe('max');
      const limits = readdirSync(mem, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => read(join(mem, d.name, 'memory.max')));
      expect(limits).toContain(String(LIMIT));
    }
  });
});
