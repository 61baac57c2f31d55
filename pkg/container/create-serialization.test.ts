// CreateContainer against Stop/RemovePodSandbox of the same pod: they must not interleave.
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ContainerManager, type ContainerManagerDeps } from './container-manager.js';
import { containerConfig, podConfig } from '../oci/test-fixtures.js';
import { notFound } from '../errors/errors.js';
import type { Config } from '../config/schema.js';
import { CgroupfsDriver } from '../cgroups/driver.js';

const log = pino({ level: 'silent' });

/** Just enough of SandboxManager: one pod, and the per-pod lock with SandboxManager's semantics. */
function fakePods() {
  let present = true;
  const sb = { id: 'pod1', state: 'SANDBOX_READY', handler: 'runc', cgroupParent: '/x', namespaces: {}, files: {}, config: podConfig() };
  let tail: Promise<unknown> = Promise.resolve();
  const runtime = { kind: 'oci', traits: { podCgroupLimits: true, appArmor: 'host' }, tasks: { onExit: () => undefined, removeContainer: () => Promise.resolve() } };
  return {
    sb,
    remove: () => (present = false),
    sandboxes: {
      runtimes: new Map([['runc', runtime]]),
      runtimeFor: () => runtime,
      cgroups: new CgroupfsDriver(),
      get: () => {
        if (!present) throw notFound('pod sandbox pod1 not found');
        return sb;
      },
      withLock<T>(_id: string, fn: () => Promise<T>): Promise<T> {
        const next = tail.then(fn, fn);
        tail = next.catch(() => undefined);
        return next;
      },
    },
  };
}

function manager(pods: ReturnType<typeof fakePods>, acquireLayers: () => Promise<string[]>, releaseLayers: () => void = () => undefined) {
  const root = mkdtempSync(join(tmpdir(), 'bh-create-'));
  const image = { id: 'img', repoDigests: ['img@sha256:1'], config: { config: {} } };
  const deps = {
    config: { root } as unknown as Config,
    sandboxes: pods.sandboxes,
    images: { resolve: () => image, acquireLayers, releaseLayers: () => Promise.resolve(releaseLayers()) },
    events: { publish: () => undefined },
    hostOomScoreAdjMin: -1000,
    log,
  } as unknown as ContainerManagerDeps;
  return new ContainerManager(deps);
}

describe('CreateContainer vs Stop/RemovePodSandbox', () => {
  it('a pod removal that comes during a create waits for it to finish', async () => {
    const pods = fakePods();
    const order: string[] = [];
    let failLease!: () => void;
    let leasing!: () => void;
    const leased = new Promise<void>((r) => (leasing = r));
    // The create stalls mid-way (layers being leased), then fails and rolls back (its last step
    // releases the lease): enough to see who waited for whom.
    const cm = manager(
      pods,
      () =>
        new Promise((_, reject) => {
          failLease = () => reject(new Error('no layers in this test'));
          leasing();
        }),
      () => order.push('create rolled back'),
    );
    const create = cm.create('pod1', containerConfig({ log_path: '' }), log);
    await leased; // the create holds the pod's lock now (a fixed wait was too short at load 16)
    // What RemovePodSandbox does: take the pod's lock, then list and stop/remove the pod's containers.
    const removal = pods.sandboxes.withLock('pod1', async () => {
      order.push('removal runs');
      pods.remove();
    });
    await new Promise((r) => setTimeout(r, 20));
    failLease();
    await create.catch(() => undefined);
    await removal;
    expect(order).toEqual(['create rolled back', 'removal runs']);
  });

  it('a create that comes during a pod removal finds the pod gone (NOT_FOUND), creating nothing', async () => {
    const pods = fakePods();
    let acquired = 0;
    const cm = manager(pods, () => {
      acquired++;
      return Promise.reject(new Error('unreachable'));
    });
    let finishRemoval!: () => void;
    const removal = pods.sandboxes.withLock('pod1', () => new Promise<void>((r) => (finishRemoval = r)));
    const create = cm.create('pod1', containerConfig(), log);
    await new Promise((r) => setTimeout(r, 20));
    pods.remove();
    finishRemoval();
    await removal;
    await expect(create).rejects.toThrow(expect.objectContaining({ kind: 'not-found' }));
    expect(acquired).toBe(0);
  });
});
