// SandboxManager over fakes (test/fakes): run/stop/remove, rollback, pod resources, recovery.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, rmSync } from 'node:fs';
import { newTestPods, podLinux, silentLog, type TestPods } from '../../test/fakes/index.js';
import { podConfig, resources } from '../oci/test-fixtures.js';

const kind = (k: string) => expect.objectContaining({ kind: k });

let pods: TestPods;
beforeEach(async () => (pods = await newTestPods()));
afterEach(() => pods.cleanup());

describe('SandboxManager.run', () => {
  it('starts the pod through the handler controller, with CNI, and records it READY', async () => {
    const id = await pods.runPod();
    const sb = pods.sandboxes.get(id);
    expect(sb.state).toBe('SANDBOX_READY');
    expect(sb.phase).toBe('created');
    expect(sb.network.ips).toEqual(['10.88.0.2']);
    expect(pods.journal.entries).toEqual(expect.arrayContaining([`controller.startSandbox ${id}`, `network.setUp ${id}`, `controller.podNetworkReady ${id}`]));
    expect(existsSync(sb.files.hosts!)).toBe(true);
  });

  it('host-network pods get no CNI ADD', async () => {
    const id = await pods.runPod({ linux: podLinux({ hostNetwork: true }) });
    expect(pods.journal.of('network.setUp')).toEqual([]);
    expect(pods.sandboxes.get(id).network.ips).toEqual([]);
  });

  it('refuses a name already taken (already-exists), and frees it on removal', async () => {
    const id = await pods.runPod();
    await expect(pods.sandboxes.run(podConfig(), '', silentLog)).rejects.toThrow(kind('already-exists'));
    await pods.sandboxes.remove(id, silentLog);
    await expect(pods.sandboxes.run(podConfig(), '', silentLog)).resolves.toMatch(/^[0-9a-f]{64}$/);
  });

  it('an unknown handler is not-found; a configured one without a runtime is failed-precondition', async () => {
    await expect(pods.sandboxes.run(podConfig(), 'nope', silentLog)).rejects.toThrow(kind('not-found'));
    await expect(pods.sandboxes.run(podConfig(), 'crun', silentLog)).rejects.toThrow(kind('failed-precondition'));
    expect(pods.journal.entries).toEqual([]);
  });

  it('rolls back a failed start: network torn down, controller.removeSandbox, record gone, name free', async () => {
    pods.runc.controller.failures.failNext('startSandbox:afterNetwork');
    await expect(pods.sandboxes.run(podConfig(), '', silentLog)).rejects.toThrow(/armed/);
    const [started] = pods.journal.of('controller.startSandbox');
    const id = started!.split(' ')[1]!;
    expect(pods.journal.indexOf('network.tearDown', id)).toBeGreaterThan(-1);
    expect(pods.journal.indexOf('controller.removeSandbox', id)).toBeGreaterThan(-1);
    expect(pods.sandboxes.all()).toEqual([]);
    expect(existsSync(pods.sandboxes.store.dirOf(id))).toBe(false);
    await expect(pods.sandboxes.run(podConfig(), '', silentLog)).resolves.toBeTruthy();
  });

  it('a failed CNI ADD fails the start and rolls back', async () => {
    pods.network.failures.failNext('setUp');
    await expect(pods.sandboxes.run(podConfig(), '', silentLog)).rejects.toThrow(/armed/);
    expect(pods.journal.of('controller.removeSandbox')).toHaveLength(1);
    expect(pods.sandboxes.all()).toEqual([]);
  });
});

describe('SandboxManager.stop / remove', () => {
  it('stop and remove of a missing pod succeed', async () => {
    await expect(pods.sandboxes.stop('deadbeef', silentLog)).resolves.toBeUndefined();
    await expect(pods.sandboxes.remove('deadbeef', silentLog)).resolves.toBeUndefined();
  });

  it('stop is idempotent; it stops the containers before the sandbox', async () => {
    const id = await pods.runPod();
    const cid = await pods.runContainer(id);
    await pods.sandboxes.stop(id, silentLog);
    await pods.sandboxes.stop(id, silentLog);
    expect(pods.sandboxes.get(id).state).toBe('SANDBOX_NOTREADY');
    expect(pods.journal.indexOf('tasks.stopContainer', cid)).toBeLessThan(pods.journal.indexOf('controller.stopSandbox', id));
    expect(pods.journal.of('network.tearDown')).toHaveLength(1);
  });

  it('a failed CNI DEL leaves the pod stopped; RemovePodSandbox retries it', async () => {
    const id = await pods.runPod();
    pods.network.failures.failNext('tearDown');
    await pods.sandboxes.stop(id, silentLog);
    expect(pods.sandboxes.get(id).state).toBe('SANDBOX_NOTREADY');
    expect(pods.sandboxes.get(id).network.pendingTeardown).toBe(true);
    await pods.sandboxes.remove(id, silentLog);
    expect(pods.journal.of('network.tearDown')).toHaveLength(2);
    expect(pods.sandboxes.find(id)).toBeUndefined();
  });

  it('remove removes the containers, then the sandbox', async () => {
    const id = await pods.runPod();
    const cid = await pods.runContainer(id);
    await pods.sandboxes.remove(id, silentLog);
    expect(pods.containers.find(cid)).toBeUndefined();
    expect(pods.journal.indexOf('tasks.removeContainer', cid)).toBeLessThan(pods.journal.indexOf('controller.removeSandbox', id));
    expect(existsSync(pods.sandboxes.store.dirOf(id))).toBe(false);
  });

  it('a pod whose sandbox process died reads NOTREADY', async () => {
    const id = await pods.runPod();
    pods.runc.controller.dead.add(id);
    expect(pods.sandboxes.list(null)[0]!.state).toBe('SANDBOX_NOTREADY');
  });
});

describe('SandboxManager.updateResources', () => {
  const res = resources({ memory_limit_in_bytes: String(256 * 2 ** 20) });

  it('applies pod limits to an owned pod cgroup when the handler allows it', async () => {
    const id = await pods.runPod();
    await pods.sandboxes.updateResources(id, res, null);
    expect(pods.cgroups.podUpdates).toEqual([{ parent: pods.sandboxes.get(id).cgroupParent, resources: expect.objectContaining({}) }]);
    expect(pods.sandboxes.get(id).config.linux?.resources).toEqual(res);
  });

  it('records but does not apply them for a handler without traits.podCgroupLimits', async () => {
    const id = await pods.runPod({}, 'microvm');
    await pods.sandboxes.updateResources(id, res, null);
    expect(pods.cgroups.podUpdates).toEqual([]);
    expect(pods.journal.indexOf('controller.checkSandboxResources', id)).toBeGreaterThan(-1);
    expect(pods.sandboxes.get(id).config.linux?.resources).toEqual(res);
  });

  it('kubelet-owned pod cgroups (cgroup_parent set) are left to kubelet', async () => {
    const id = await pods.runPod({ linux: podLinux({ cgroupParent: '/kubepods/pod-x' }) });
    await pods.sandboxes.updateResources(id, res, null);
    expect(pods.cgroups.podUpdates).toEqual([]);
  });

  it('a controller refusal keeps the old resources', async () => {
    const id = await pods.runPod({}, 'microvm');
    pods.microvm.controller.refuseResources = Object.assign(new Error('too small'), { kind: 'failed-precondition' });
    await expect(pods.sandboxes.updateResources(id, res, null)).rejects.toThrow(kind('failed-precondition'));
    expect(pods.sandboxes.get(id).config.linux?.resources).toBeFalsy();
  });
});

describe('SandboxManager recovery', () => {
  it('a second manager over the same root sees the pods, names reserved', async () => {
    const id = await pods.runPod();
    const again = await pods.restart();
    expect(again.sandboxes.get(id).state).toBe('SANDBOX_READY');
    await expect(again.sandboxes.run(podConfig(), '', silentLog)).rejects.toThrow(kind('already-exists'));
  });

  it('a READY pod whose pinned namespaces are gone (host reboot) recovers NOTREADY', async () => {
    const id = await pods.runPod();
    rmSync(pods.sandboxes.get(id).namespaces.net!);
    const again = await pods.restart();
    expect(again.sandboxes.get(id).state).toBe('SANDBOX_NOTREADY');
  });
});

describe('a pod whose handler is no longer configured (removed from the config while it had pods)', () => {
  it('still stops and is removed: its records go, its container is marked exited', async () => {
    const id = await pods.runPod();
    const cid = await pods.runContainer(id);
    pods.sandboxes.runtimes.delete('runc');
    await pods.sandboxes.stop(id, silentLog);
    expect(pods.sandboxes.get(id).state).toBe('SANDBOX_NOTREADY');
    expect(pods.containers.get(cid).state).toBe('CONTAINER_EXITED');
    await pods.sandboxes.remove(id, silentLog);
    expect(pods.sandboxes.find(id)).toBeUndefined();
    expect(pods.containers.find(cid)).toBeUndefined();
  });
});
