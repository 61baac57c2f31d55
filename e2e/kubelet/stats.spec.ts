// Kubelet bench: node and pod stats through the kubelet summary API
// (/api/v1/nodes/<node>/proxy/stats/summary), which the kubelet fills from the runtime's CRI
// stats (ListContainerStats / ListPodSandboxStats) plus its own cgroup readings.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connect,
  createNamespace,
  createPod,
  deleteNamespace,
  enabled,
  ensureRuntimeClasses,
  kubectl,
  nodeName,
  podSpec,
  running,
  runtimeName,
  shContainer,
  waitFor,
  waitForPod,
  type Cluster,
} from './lib/cluster.js';

interface ContainerStats {
  name: string;
  cpu?: { usageCoreNanoSeconds?: number };
  memory?: { workingSetBytes?: number; usageBytes?: number };
  rootfs?: { usedBytes?: number };
  logs?: { usedBytes?: number };
}
interface PodStats {
  podRef: { name: string; namespace: string; uid: string };
  containers?: ContainerStats[];
  cpu?: { usageCoreNanoSeconds?: number };
  memory?: { workingSetBytes?: number };
  network?: { rxBytes?: number; txBytes?: number };
}
interface Summary {
  node: { nodeName: string; cpu?: { usageCoreNanoSeconds?: number }; memory?: { workingSetBytes?: number }; fs?: { capacityBytes?: number } };
  pods?: PodStats[];
}

describe.skipIf(!enabled)(`kubelet + ${runtimeName}: summary API stats`, () => {
  let c: Cluster;
  let ns: string;

  beforeAll(async () => {
    c = connect();
    await ensureRuntimeClasses();
    ns = await createNamespace(c, 'kubelet-stats');
    // Burns a little CPU and holds ~8 MiB so the numbers cannot be zero, then idles.
    await createPod(
      c,
      ns,
      podSpec('busy', [shContainer('main', 'i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; head -c 8388608 /dev/zero > /tmp/blob; echo done; sleep 3600')], {
        runtimeClassName: 'runc',
      }),
    );
    await waitForPod(c, ns, 'busy', 'Running', running);
  });
  afterAll(async () => {
    if (ns) await deleteNamespace(c, ns);
  });

  const summary = async (): Promise<Summary> =>
    JSON.parse(await kubectl(['get', '--raw', `/api/v1/nodes/${nodeName}/proxy/stats/summary`])) as Summary;

  it('[handler runc] node stats are present and non-zero', async () => {
    const s = await summary();
    expect(s.node.nodeName).toBe(nodeName);
    expect(s.node.cpu?.usageCoreNanoSeconds ?? 0).toBeGreaterThan(0);
    expect(s.node.memory?.workingSetBytes ?? 0).toBeGreaterThan(0);
  });

  it('[handler runc] our pod and its container have non-zero CPU and memory', async () => {
    // The kubelet's stats cache refreshes on its own housekeeping period: poll.
    const pod = await waitFor('busy pod with non-zero container stats', 90_000, async () => {
      const s = await summary();
      const p = s.pods?.find((x) => x.podRef.namespace === ns && x.podRef.name === 'busy');
      const ctr = p?.containers?.find((x) => x.name === 'main');
      const nonZero = (x?: { cpu?: { usageCoreNanoSeconds?: number }; memory?: { workingSetBytes?: number } }): boolean =>
        (x?.cpu?.usageCoreNanoSeconds ?? 0) > 0 && (x?.memory?.workingSetBytes ?? 0) > 0;
      // Pod-level numbers (the pod cgroup) lag the container ones by a housekeeping period.
      return nonZero(ctr) && nonZero(p) ? p : undefined;
    });
    const ctr = pod.containers!.find((x) => x.name === 'main')!;
    expect(ctr.cpu!.usageCoreNanoSeconds!).toBeGreaterThan(0);
    expect(ctr.memory!.workingSetBytes!).toBeGreaterThan(0);
    expect(pod.cpu?.usageCoreNanoSeconds ?? 0).toBeGreaterThan(0);
    expect(pod.memory?.workingSetBytes ?? 0).toBeGreaterThan(0);
  });
});
