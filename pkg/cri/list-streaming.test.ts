// CRIListStreaming (StreamPodSandboxes, StreamContainers, Stream*Stats, StreamPodSandboxMetrics)
// over fakes: the List* results in chunks of STREAM_CHUNK, nothing at all for an empty list.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CollectingStream, containerFilter, newTestPods, podFilter, type TestPods } from '../../test/fakes/index.js';
import { STREAM_CHUNK } from './list-streaming.js';
import type * as cri from '../api/cri-types.js';

let pods: TestPods;
beforeEach(async () => (pods = await newTestPods()));
afterEach(() => pods.cleanup());

describe('list streaming', () => {
  it('an empty list sends no message', async () => {
    const s = new CollectingStream<cri.StreamPodSandboxesResponse>();
    await pods.cri.StreamPodSandboxes({ filter: null }, s, pods.ctx);
    expect(s.items).toEqual([]);
  });

  it('StreamPodSandboxes and StreamContainers send what the List RPCs answer, filters applied', async () => {
    const a = await pods.runPod({ metadata: { name: 'a', uid: 'ua', namespace: 'n', attempt: 0 } });
    const b = await pods.runPod({ metadata: { name: 'b', uid: 'ub', namespace: 'n', attempt: 0 } });
    const ca = await pods.runContainer(a);
    await pods.runContainer(b);
    const ps = new CollectingStream<cri.StreamPodSandboxesResponse>();
    await pods.cri.StreamPodSandboxes({ filter: podFilter({ id: b }) }, ps, pods.ctx);
    expect(ps.items.flatMap((m) => m.pod_sandboxes!.map((p) => p.id))).toEqual([b]);
    const cs = new CollectingStream<cri.StreamContainersResponse>();
    await pods.cri.StreamContainers({ filter: containerFilter({ podId: a }) }, cs, pods.ctx);
    expect(cs.items.flatMap((m) => m.containers!.map((c) => c.id))).toEqual([ca]);
  });

  it(`chunks of at most ${STREAM_CHUNK} items`, async () => {
    const id = await pods.runPod();
    const n = STREAM_CHUNK + 2;
    for (let i = 0; i < n; i++) await pods.runContainer(id, { metadata: { name: `c${i}`, attempt: 0 } }, false);
    const cs = new CollectingStream<cri.StreamContainersResponse>();
    await pods.cri.StreamContainers({ filter: null }, cs, pods.ctx);
    expect(cs.items.map((m) => m.containers!.length)).toEqual([STREAM_CHUNK, 2]);
  });

  it('the stats and metrics streams cover every pod and live container', async () => {
    const id = await pods.runPod();
    const c = await pods.runContainer(id);
    const cst = new CollectingStream<cri.StreamContainerStatsResponse>();
    await pods.cri.StreamContainerStats({ filter: null }, cst, pods.ctx);
    expect(cst.items.flatMap((m) => m.container_stats!.map((s) => s.attributes!.id))).toEqual([c]);
    const pst = new CollectingStream<cri.StreamPodSandboxStatsResponse>();
    await pods.cri.StreamPodSandboxStats({ filter: null }, pst, pods.ctx);
    expect(pst.items.flatMap((m) => m.pod_sandbox_stats!.map((s) => s.attributes!.id))).toEqual([id]);
    const pm = new CollectingStream<cri.StreamPodSandboxMetricsResponse>();
    await pods.cri.StreamPodSandboxMetrics({}, pm, pods.ctx);
    expect(pm.items.flatMap((m) => m.pod_sandbox_metrics!.map((s) => s.pod_sandbox_id))).toEqual([id]);
  });
});
