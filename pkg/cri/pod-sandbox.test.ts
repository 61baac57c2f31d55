// RunPodSandbox, StopPodSandbox, RemovePodSandbox, PodSandboxStatus, ListPodSandbox,
// UpdatePodSandboxResources over fakes (test/fakes).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newTestPods, podFilter, type TestPods } from '../../test/fakes/index.js';
import { podConfig, resources } from '../oci/test-fixtures.js';

const kind = (k: string) => expect.objectContaining({ kind: k });

let pods: TestPods;
beforeEach(async () => (pods = await newTestPods()));
afterEach(() => pods.cleanup());

describe('RunPodSandbox', () => {
  it('answers the pod id; the status shows it READY with its IP and handler', async () => {
    const id = await pods.runPod({}, 'microvm');
    const res = await pods.cri.PodSandboxStatus({ pod_sandbox_id: id, verbose: false }, pods.ctx);
    expect(res.status).toMatchObject({ id, state: 'SANDBOX_READY', runtime_handler: 'microvm', network: { ip: '10.88.0.2' } });
  });

  it('a missing config is invalid-argument; a name taken is already-exists; an unknown handler not-found', async () => {
    await expect(pods.cri.RunPodSandbox({ config: null, runtime_handler: '' }, pods.ctx)).rejects.toThrow(kind('invalid-argument'));
    await pods.runPod();
    await expect(pods.cri.RunPodSandbox({ config: podConfig(), runtime_handler: '' }, pods.ctx)).rejects.toThrow(kind('already-exists'));
    await expect(pods.cri.RunPodSandbox({ config: podConfig({ metadata: { name: 'x', uid: 'u', namespace: 'n', attempt: 0 } }), runtime_handler: 'nope' }, pods.ctx)).rejects.toThrow(kind('not-found'));
  });
});

describe('StopPodSandbox / RemovePodSandbox', () => {
  it('are idempotent and succeed for a missing pod; an empty id is invalid-argument', async () => {
    const id = await pods.runPod();
    for (let i = 0; i < 2; i++) await pods.cri.StopPodSandbox({ pod_sandbox_id: id }, pods.ctx);
    for (let i = 0; i < 2; i++) await pods.cri.RemovePodSandbox({ pod_sandbox_id: id }, pods.ctx);
    await expect(pods.cri.StopPodSandbox({ pod_sandbox_id: 'missing' }, pods.ctx)).resolves.toEqual({});
    await expect(pods.cri.RemovePodSandbox({ pod_sandbox_id: 'missing' }, pods.ctx)).resolves.toEqual({});
    await expect(pods.cri.StopPodSandbox({ pod_sandbox_id: '' }, pods.ctx)).rejects.toThrow(kind('invalid-argument'));
    await expect(pods.cri.PodSandboxStatus({ pod_sandbox_id: id, verbose: false }, pods.ctx)).rejects.toThrow(kind('not-found'));
  });

  it('stops the containers before the sandbox', async () => {
    const id = await pods.runPod();
    const cid = await pods.runContainer(id);
    await pods.cri.StopPodSandbox({ pod_sandbox_id: id }, pods.ctx);
    expect(pods.journal.indexOf('tasks.stopContainer', cid)).toBeLessThan(pods.journal.indexOf('controller.stopSandbox', id));
  });
});

describe('PodSandboxStatus', () => {
  it('includes the containers of the pod as last known', async () => {
    const id = await pods.runPod();
    const cid = await pods.runContainer(id);
    pods.runc.tasks.exit(cid, 1);
    const res = await pods.cri.PodSandboxStatus({ pod_sandbox_id: id, verbose: true }, pods.ctx);
    expect(res.containers_statuses).toEqual([expect.objectContaining({ id: cid, state: 'CONTAINER_EXITED', exit_code: 1 })]);
    expect(JSON.parse(res.info!.info!)).toMatchObject({ id, handler: 'runc' });
  });
});

describe('ListPodSandbox', () => {
  it('filters by id prefix, state and labels', async () => {
    const a = await pods.runPod({ metadata: { name: 'a', uid: 'ua', namespace: 'n', attempt: 0 }, labels: { app: 'a' } });
    const b = await pods.runPod({ metadata: { name: 'b', uid: 'ub', namespace: 'n', attempt: 0 }, labels: { app: 'b' } });
    await pods.cri.StopPodSandbox({ pod_sandbox_id: b }, pods.ctx);
    const ids = async (f: Parameters<typeof podFilter>[0] | null) => (await pods.cri.ListPodSandbox({ filter: f && podFilter(f) }, pods.ctx)).items!.map((p) => p.id).sort();
    expect(await ids(null)).toEqual([a, b].sort());
    expect(await ids({ id: a.slice(0, 12) })).toEqual([a]);
    expect(await ids({ state: 'SANDBOX_READY' })).toEqual([a]);
    expect(await ids({ labels: { app: 'b' } })).toEqual([b]);
    expect(await ids({ labels: { app: 'c' } })).toEqual([]);
  });
});

describe('UpdatePodSandboxResources', () => {
  const res = resources({ memory_limit_in_bytes: String(2 ** 28) });

  it('writes the pod cgroup only where traits.podCgroupLimits says so', async () => {
    const oci = await pods.runPod({ metadata: { name: 'a', uid: 'ua', namespace: 'n', attempt: 0 } });
    const vm = await pods.runPod({ metadata: { name: 'b', uid: 'ub', namespace: 'n', attempt: 0 } }, 'microvm');
    await pods.cri.UpdatePodSandboxResources({ pod_sandbox_id: oci, resources: res, overhead: null }, pods.ctx);
    await pods.cri.UpdatePodSandboxResources({ pod_sandbox_id: vm, resources: res, overhead: null }, pods.ctx);
    expect(pods.cgroups.podUpdates.map((u) => u.parent)).toEqual([pods.sandboxes.get(oci).cgroupParent]);
  });

  it('an unknown pod is not-found', async () => {
    await expect(pods.cri.UpdatePodSandboxResources({ pod_sandbox_id: 'nope', resources: res, overhead: null }, pods.ctx)).rejects.toThrow(kind('not-found'));
  });
});
