// ContainerStats, ListContainerStats over fakes (test/fakes): figures from the task runtime.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cgroupStats, newTestPods, type TestPods } from '../../test/fakes/index.js';

const kind = (k: string) => expect.objectContaining({ kind: k });

let pods: TestPods;
let podId: string;
beforeEach(async () => {
  pods = await newTestPods();
  podId = await pods.runPod();
});
afterEach(() => pods.cleanup());

describe('ContainerStats', () => {
  it('reports the runtime figures of the container', async () => {
    const id = await pods.runContainer(podId);
    pods.runc.tasks.stats.set(id, cgroupStats({ usageNs: 5_000_000n, workingSetBytes: 4096 }));
    const { stats } = await pods.cri.ContainerStats({ container_id: id }, pods.ctx);
    expect(stats!.attributes!.id).toBe(id);
    expect(stats!.cpu!.usage_core_nano_seconds).toEqual({ value: '5000000' });
    expect(stats!.memory!.working_set_bytes).toEqual({ value: '4096' });
  });

  it('an empty id is invalid-argument, an unknown one not-found', async () => {
    await expect(pods.cri.ContainerStats({ container_id: '' }, pods.ctx)).rejects.toThrow(kind('invalid-argument'));
    await expect(pods.cri.ContainerStats({ container_id: 'nope' }, pods.ctx)).rejects.toThrow(kind('not-found'));
  });
});

describe('ListContainerStats', () => {
  it('lists live containers only, filtered by id, pod and labels', async () => {
    const other = await pods.runPod({ metadata: { name: 'o', uid: 'u2', namespace: 'n', attempt: 0 } });
    const a = await pods.runContainer(podId, { metadata: { name: 'a', attempt: 0 }, labels: { k: 'a' } });
    const b = await pods.runContainer(other, { metadata: { name: 'b', attempt: 0 }, labels: { k: 'b' } });
    const gone = await pods.runContainer(podId, { metadata: { name: 'gone', attempt: 0 } });
    await pods.cri.StopContainer({ container_id: gone, timeout: '0' }, pods.ctx);
    const ids = async (filter: { id?: string; pod_sandbox_id?: string; label_selector?: Record<string, string> } | null) =>
      (await pods.cri.ListContainerStats({ filter: filter && { id: '', pod_sandbox_id: '', label_selector: {}, ...filter } }, pods.ctx)).stats!.map((s) => s.attributes!.id).sort();
    expect(await ids(null)).toEqual([a, b].sort());
    expect(await ids({ id: a })).toEqual([a]);
    expect(await ids({ pod_sandbox_id: other })).toEqual([b]);
    expect(await ids({ label_selector: { k: 'a' } })).toEqual([a]);
  });
});
