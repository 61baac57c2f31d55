// PodSandboxStats, ListPodSandboxStats, ListMetricDescriptors, ListPodSandboxMetrics over fakes.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cgroupStats, newTestPods, type TestPods } from '../../test/fakes/index.js';

const kind = (k: string) => expect.objectContaining({ kind: k });

let pods: TestPods;
beforeEach(async () => (pods = await newTestPods()));
afterEach(() => pods.cleanup());

describe('PodSandboxStats', () => {
  it('takes the controller figures and lists the live containers', async () => {
    const id = await pods.runPod({}, 'microvm');
    const c = await pods.runContainer(id);
    pods.microvm.controller.stats.set(id, cgroupStats({ usageNs: 7n, workingSetBytes: 2 ** 20, pids: 3 }));
    const { stats } = await pods.cri.PodSandboxStats({ pod_sandbox_id: id }, pods.ctx);
    expect(stats!.attributes!.id).toBe(id);
    expect(stats!.linux!.memory!.working_set_bytes).toEqual({ value: String(2 ** 20) });
    expect(stats!.linux!.process!.process_count).toEqual({ value: '3' });
    expect(stats!.linux!.containers!.map((x) => x.attributes!.id)).toEqual([c]);
  });

  it('an empty id is invalid-argument, an unknown one not-found', async () => {
    await expect(pods.cri.PodSandboxStats({ pod_sandbox_id: '' }, pods.ctx)).rejects.toThrow(kind('invalid-argument'));
    await expect(pods.cri.PodSandboxStats({ pod_sandbox_id: 'nope' }, pods.ctx)).rejects.toThrow(kind('not-found'));
  });
});

describe('ListPodSandboxStats / metrics', () => {
  it('filters by id and labels', async () => {
    const a = await pods.runPod({ metadata: { name: 'a', uid: 'ua', namespace: 'n', attempt: 0 }, labels: { app: 'a' } });
    const b = await pods.runPod({ metadata: { name: 'b', uid: 'ub', namespace: 'n', attempt: 0 }, labels: { app: 'b' } });
    const ids = async (filter: { id?: string; label_selector?: Record<string, string> } | null) =>
      (await pods.cri.ListPodSandboxStats({ filter: filter && { id: '', label_selector: {}, ...filter } }, pods.ctx)).stats!.map((s) => s.attributes!.id).sort();
    expect(await ids(null)).toEqual([a, b].sort());
    expect(await ids({ id: b })).toEqual([b]);
    expect(await ids({ label_selector: { app: 'a' } })).toEqual([a]);
  });

  it('ListPodSandboxMetrics has one entry per pod; descriptors are listed', async () => {
    const a = await pods.runPod();
    const { pod_metrics } = await pods.cri.ListPodSandboxMetrics({}, pods.ctx);
    expect(pod_metrics!.map((m) => m.pod_sandbox_id)).toEqual([a]);
    expect((await pods.cri.ListMetricDescriptors({}, pods.ctx)).descriptors!.length).toBeGreaterThan(0);
  });
});
