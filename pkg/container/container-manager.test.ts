// ContainerManager over fakes (test/fakes): create/start/stop/remove, exits, updates, recovery.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { newTestPods, silentLog, type TestPods } from '../../test/fakes/index.js';
import { containerConfig, resources } from '../oci/test-fixtures.js';

const kind = (k: string) => expect.objectContaining({ kind: k });

let pods: TestPods;
let podId: string;
beforeEach(async () => {
  pods = await newTestPods();
  podId = await pods.runPod();
});
afterEach(() => pods.cleanup());

describe('ContainerManager.create', () => {
  it('creates through the task runtime: record, bundle, rootfs, a lease on the image layers', async () => {
    const id = await pods.containers.create(podId, containerConfig(), silentLog);
    const c = pods.containers.get(id);
    expect(c.state).toBe('CONTAINER_CREATED');
    expect(c.phase).toBe('created');
    expect(existsSync(`${c.bundleDir}/config.json`)).toBe(true);
    expect(pods.images.leases.get(c.leaseId)).toBe(c.imageId);
    expect(pods.journal.of('tasks.createContainer')).toEqual([`tasks.createContainer ${id}`]);
  });

  it('refuses a pod that is not ready (failed-precondition), a missing pod (not-found), a missing image (not-found)', async () => {
    await expect(pods.containers.create('nope', containerConfig(), silentLog)).rejects.toThrow(kind('not-found'));
    await expect(pods.containers.create(podId, containerConfig({ image: { ...containerConfig().image!, image: 'missing:1' } }), silentLog)).rejects.toThrow(kind('not-found'));
    await pods.sandboxes.stop(podId, silentLog);
    await expect(pods.containers.create(podId, containerConfig(), silentLog)).rejects.toThrow(kind('failed-precondition'));
  });

  it('refuses a name already taken in the pod (already-exists)', async () => {
    await pods.containers.create(podId, containerConfig(), silentLog);
    await expect(pods.containers.create(podId, containerConfig(), silentLog)).rejects.toThrow(kind('already-exists'));
  });

  it('rolls back a failed runtime create: lease released, dir gone, name free', async () => {
    pods.runc.tasks.failures.failNext('createContainer');
    await expect(pods.containers.create(podId, containerConfig(), silentLog)).rejects.toThrow(/armed/);
    expect(pods.containers.all()).toEqual([]);
    expect(pods.images.leases.size).toBe(0);
    expect(pods.journal.of('tasks.removeContainer')).toHaveLength(1);
    await expect(pods.containers.create(podId, containerConfig(), silentLog)).resolves.toBeTruthy();
  });
});

describe('ContainerManager lifecycle', () => {
  it('start runs it; an exit from the runtime gives exit code and reason', async () => {
    const id = await pods.runContainer(podId);
    expect(pods.containers.get(id).state).toBe('CONTAINER_RUNNING');
    pods.runc.tasks.exit(id, 3);
    const { status } = await pods.containers.status(id, false);
    expect(status).toMatchObject({ state: 'CONTAINER_EXITED', exit_code: 3, reason: 'Error' });
  });

  it('reasons: Completed for 0, OOMKilled, and the runtime reason when it gives one', async () => {
    const [a, b, c] = [await pods.runContainer(podId, { metadata: { name: 'a', attempt: 0 } }), await pods.runContainer(podId, { metadata: { name: 'b', attempt: 0 } }), await pods.runContainer(podId, { metadata: { name: 'c', attempt: 0 } })];
    pods.runc.tasks.exit(a, 0);
    pods.runc.tasks.exit(b, 137, { oomKilled: true });
    pods.runc.tasks.exit(c, 255, { reason: 'PodVMDied', message: 'the pod VM exited' });
    expect((await pods.containers.status(a, false)).status!.reason).toBe('Completed');
    expect((await pods.containers.status(b, false)).status!.reason).toBe('OOMKilled');
    expect((await pods.containers.status(c, false)).status).toMatchObject({ reason: 'PodVMDied', message: 'the pod VM exited' });
  });

  it('a failed start leaves the container exited with StartError', async () => {
    const id = await pods.runContainer(podId, {}, false);
    pods.runc.tasks.failures.failNext('startContainer');
    await expect(pods.containers.start(id, silentLog)).rejects.toThrow(/armed/);
    expect(pods.containers.get(id)).toMatchObject({ state: 'CONTAINER_EXITED', reason: 'StartError', exitCode: 128 });
    await expect(pods.containers.start(id, silentLog)).rejects.toThrow(kind('failed-precondition'));
  });

  it('stop sends the stop signal; stop and remove of a missing container succeed', async () => {
    const id = await pods.runContainer(podId, { stop_signal: 'SIGINT' });
    await pods.containers.stop(id, 5, silentLog);
    expect(pods.containers.get(id)).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 128 + 2 });
    await expect(pods.containers.stop('nope', 0, silentLog)).resolves.toBeUndefined();
    await expect(pods.containers.remove('nope', silentLog)).resolves.toBeUndefined();
  });

  it('remove stops, destroys, releases the lease and frees the name', async () => {
    const id = await pods.runContainer(podId);
    const c = pods.containers.get(id);
    await pods.containers.remove(id, silentLog);
    expect(pods.containers.find(id)).toBeUndefined();
    expect(existsSync(c.dir)).toBe(false);
    expect(pods.images.leases.size).toBe(0);
    expect(pods.journal.indexOf('tasks.stopContainer', id)).toBeLessThan(pods.journal.indexOf('tasks.removeContainer', id));
    await expect(pods.containers.create(podId, containerConfig(), silentLog)).resolves.toBeTruthy();
  });
});

describe('ContainerManager.updateResources', () => {
  const res = resources({ cpu_shares: '512', memory_limit_in_bytes: String(64 * 2 ** 20) });

  it('hands OCI resources to the runtime and records them', async () => {
    const id = await pods.runContainer(podId);
    await pods.containers.updateResources(id, res);
    expect(pods.runc.tasks.task(id).updates).toHaveLength(1);
    expect(pods.containers.get(id).resources).toEqual(res);
  });

  it('refuses an exited container (failed-precondition)', async () => {
    const id = await pods.runContainer(podId);
    pods.runc.tasks.exit(id, 0);
    await expect(pods.containers.updateResources(id, res)).rejects.toThrow(kind('failed-precondition'));
  });
});

describe('ContainerManager recovery', () => {
  it('a second manager over the same root sees the containers and exits that happened while down', async () => {
    const running = await pods.runContainer(podId, { metadata: { name: 'a', attempt: 0 } });
    const exited = await pods.runContainer(podId, { metadata: { name: 'b', attempt: 0 } });
    // Exits while the daemon is down: nobody hears it, the next daemon reads it from the runtime.
    pods.runc.tasks.task(exited).state = { status: 'exited', pid: 0, exitCode: 7 };
    const after = await pods.restart();
    expect(after.containers.get(running).state).toBe('CONTAINER_RUNNING');
    expect(after.containers.get(exited)).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 7 });
    await expect(after.containers.create(podId, containerConfig({ metadata: { name: 'a', attempt: 0 } }), silentLog)).rejects.toThrow(kind('already-exists'));
  });
});
