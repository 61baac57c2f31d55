// CreateContainer, StartContainer, StopContainer, RemoveContainer, ListContainers, ContainerStatus,
// UpdateContainerResources, ReopenContainerLog over fakes (test/fakes).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { containerFilter, newTestPods, type TestPods } from '../../test/fakes/index.js';
import { containerConfig, resources } from '../oci/test-fixtures.js';

const kind = (k: string) => expect.objectContaining({ kind: k });
const named = (name: string, labels: Record<string, string> = {}) => ({ metadata: { name, attempt: 0 }, labels });

let pods: TestPods;
let podId: string;
beforeEach(async () => {
  pods = await newTestPods();
  podId = await pods.runPod();
});
afterEach(() => pods.cleanup());

describe('CreateContainer', () => {
  it('in a pod that is not ready: failed-precondition; in a missing pod: not-found', async () => {
    const req = (pod_sandbox_id: string) => ({ pod_sandbox_id, config: containerConfig(), sandbox_config: null });
    await expect(pods.cri.CreateContainer(req('nope'), pods.ctx)).rejects.toThrow(kind('not-found'));
    await pods.cri.StopPodSandbox({ pod_sandbox_id: podId }, pods.ctx);
    await expect(pods.cri.CreateContainer(req(podId), pods.ctx)).rejects.toThrow(kind('failed-precondition'));
  });

  it('CDI devices: refused for a handler with traits.cdiRefusal (failed-precondition), unknown without CDI specs (not-found)', async () => {
    const vmPod = await pods.runPod({ metadata: { name: 'vm', uid: 'u2', namespace: 'n', attempt: 0 } }, 'microvm');
    const config = containerConfig({ CDI_devices: [{ name: 'vendor.com/gpu=0' }] });
    await expect(pods.cri.CreateContainer({ pod_sandbox_id: vmPod, config, sandbox_config: null }, pods.ctx)).rejects.toThrow(kind('failed-precondition'));
    await expect(pods.cri.CreateContainer({ pod_sandbox_id: podId, config, sandbox_config: null }, pods.ctx)).rejects.toThrow(kind('not-found'));
    expect(pods.journal.of('tasks.createContainer')).toEqual([]);
  });
});

describe('container lifecycle through the CRI', () => {
  it('status reports the exit code and reason from the task runtime', async () => {
    const id = await pods.runContainer(podId);
    expect((await pods.cri.ContainerStatus({ container_id: id, verbose: false }, pods.ctx)).status!.state).toBe('CONTAINER_RUNNING');
    pods.runc.tasks.exit(id, 42);
    expect((await pods.cri.ContainerStatus({ container_id: id, verbose: false }, pods.ctx)).status).toMatchObject({ state: 'CONTAINER_EXITED', exit_code: 42, reason: 'Error' });
  });

  it('Stop/Remove are idempotent and succeed for a missing container; an empty id is invalid-argument', async () => {
    const id = await pods.runContainer(podId);
    for (let i = 0; i < 2; i++) await pods.cri.StopContainer({ container_id: id, timeout: '0' }, pods.ctx);
    for (let i = 0; i < 2; i++) await pods.cri.RemoveContainer({ container_id: id }, pods.ctx);
    await expect(pods.cri.StopContainer({ container_id: 'missing', timeout: '0' }, pods.ctx)).resolves.toEqual({});
    await expect(pods.cri.RemoveContainer({ container_id: 'missing' }, pods.ctx)).resolves.toEqual({});
    await expect(pods.cri.StartContainer({ container_id: '' }, pods.ctx)).rejects.toThrow(kind('invalid-argument'));
    await expect(pods.cri.ContainerStatus({ container_id: id, verbose: false }, pods.ctx)).rejects.toThrow(kind('not-found'));
  });

  it('UpdateContainerResources on an exited container is failed-precondition', async () => {
    const id = await pods.runContainer(podId);
    await pods.cri.UpdateContainerResources({ container_id: id, linux: resources({ cpu_shares: '256' }), windows: null, annotations: {} }, pods.ctx);
    pods.runc.tasks.exit(id, 0);
    await expect(pods.cri.UpdateContainerResources({ container_id: id, linux: resources(), windows: null, annotations: {} }, pods.ctx)).rejects.toThrow(kind('failed-precondition'));
  });

  it('ReopenContainerLog needs a running container', async () => {
    const id = await pods.runContainer(podId);
    await pods.cri.ReopenContainerLog({ container_id: id }, pods.ctx);
    expect(pods.journal.of('tasks.reopenLog')).toEqual([`tasks.reopenLog ${id}`]);
    await pods.cri.StopContainer({ container_id: id, timeout: '0' }, pods.ctx);
    await expect(pods.cri.ReopenContainerLog({ container_id: id }, pods.ctx)).rejects.toThrow(kind('failed-precondition'));
  });
});

describe('ListContainers', () => {
  it('filters by id prefix, pod, state and labels', async () => {
    const other = await pods.runPod({ metadata: { name: 'other', uid: 'u2', namespace: 'n', attempt: 0 } });
    const a = await pods.runContainer(podId, named('a', { tier: 'web' }));
    const b = await pods.runContainer(podId, named('b', { tier: 'db' }), false);
    const c = await pods.runContainer(other, named('c', { tier: 'web' }));
    pods.runc.tasks.exit(c, 0);
    const ids = async (f: Parameters<typeof containerFilter>[0] | null) => (await pods.cri.ListContainers({ filter: f && containerFilter(f) }, pods.ctx)).containers!.map((x) => x.id).sort();
    expect(await ids(null)).toEqual([a, b, c].sort());
    expect(await ids({ id: b.slice(0, 10) })).toEqual([b]);
    expect(await ids({ podId: other })).toEqual([c]);
    expect(await ids({ podId: 'missing' })).toEqual([]);
    expect(await ids({ state: 'CONTAINER_CREATED' })).toEqual([b]);
    expect(await ids({ state: 'CONTAINER_EXITED' })).toEqual([c]);
    expect(await ids({ labels: { tier: 'web' } })).toEqual([a, c].sort());
    expect(await ids({ podId, labels: { tier: 'web' } })).toEqual([a]);
  });
});
