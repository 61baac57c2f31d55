// GetContainerEvents over fakes: pod and container lifecycle events, in order, until the client leaves.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CollectingStream, newTestPods, type TestPods } from '../../test/fakes/index.js';
import type * as cri from '../api/cri-types.js';

let pods: TestPods;
let stream: CollectingStream<cri.ContainerEventResponse>;
let call: Promise<void>;
beforeEach(async () => {
  pods = await newTestPods();
  stream = new CollectingStream();
  call = pods.cri.GetContainerEvents({}, stream, pods.ctx);
});
afterEach(async () => {
  stream.abort();
  await call;
  pods.cleanup();
});

const seen = () => stream.items.map((e) => [e.container_event_type, e.container_id]);

describe('GetContainerEvents', () => {
  it('a pod and a container through their lifecycle, the exit heard from the task runtime', async () => {
    const pod = await pods.runPod();
    const c = await pods.runContainer(pod);
    pods.runc.tasks.exit(c, 0);
    await stream.waitFor(5);
    await pods.cri.RemovePodSandbox({ pod_sandbox_id: pod }, pods.ctx);
    await stream.waitFor(8);
    expect(seen()).toEqual([
      ['CONTAINER_CREATED_EVENT', pod],
      ['CONTAINER_STARTED_EVENT', pod],
      ['CONTAINER_CREATED_EVENT', c],
      ['CONTAINER_STARTED_EVENT', c],
      ['CONTAINER_STOPPED_EVENT', c],
      ['CONTAINER_DELETED_EVENT', c],
      ['CONTAINER_STOPPED_EVENT', pod],
      ['CONTAINER_DELETED_EVENT', pod],
    ]);
    const last = stream.items.at(-1)!;
    expect(last.pod_sandbox_status).toMatchObject({ id: pod, state: 'SANDBOX_NOTREADY' });
  });

  it('an event carries the pod status and its containers', async () => {
    const pod = await pods.runPod();
    const c = await pods.runContainer(pod);
    const [, , , started] = await stream.waitFor(4);
    expect(started!.pod_sandbox_status).toMatchObject({ id: pod, state: 'SANDBOX_READY' });
    expect(started!.containers_statuses!.map((s) => [s.id, s.state])).toEqual([[c, 'CONTAINER_RUNNING']]);
  });

  it('ends when the client goes away', async () => {
    stream.abort();
    await expect(call).resolves.toBeUndefined();
  });
});
