// Image volumes (KEP-4639, on by default since Kubernetes 1.35): a CRI mount naming an image.
// The image's layers are mounted read-only, nosuid, nodev, noexec (an overlay for a multi-layer
// image, a read-only bind for a single layer), optionally at image_sub_path, and released with
// the container. Bad sub paths and missing images are refused with nothing left behind.
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { criClient, grpcCode, runTestPod, type CriClient, type TestPod } from './lib/cri-grpc.js';
import { mountsUnder, ownDaemon, VM_HANDLERS_TOML, type OwnDaemon } from './lib/own-daemon.js';

const MAIN = 'docker.io/library/busybox:latest';
const MULTI = 'registry.k8s.io/e2e-test-images/nginx:1.14-2'; // 2 layers: an overlay
const SINGLE = 'registry.k8s.io/e2e-test-images/busybox:1.29-2'; // 1 layer: a bind

describe('image volumes on a runc pod', () => {
  let d: OwnDaemon;
  let cri: CriClient;
  let pod: TestPod | undefined;
  let id = '';
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    d = ownDaemon('imgvol', { extraToml: VM_HANDLERS_TOML });
    await d.start();
    cri = criClient(d.sock);
    for (const img of [MAIN, MULTI, SINGLE]) ids[img] = (await cri.call<{ image_ref: string }>('PullImage', { image: { image: img } })).image_ref;
    pod = await runTestPod(cri, 'iv', d.logDir);
  }, 180_000);
  afterAll(async () => {
    await pod?.remove();
    cri?.close();
    await d?.cleanup();
  });

  // kubelet passes PullImage's image_ref as the mount's image.
  const create = (name: string, mounts: object[]) => pod!.create(name, MAIN, { mounts });
  const sh = (script: string) => pod!.sh(id, script);

  it('mounts a multi-layer image and a sub path of a single-layer one, read-only, noexec', async () => {
    id = await create('c', [
      { container_path: '/vol/multi', image: { image: ids[MULTI] } },
      { container_path: '/vol/single-bin', image: { image: ids[SINGLE] }, image_sub_path: 'bin' },
    ]);
    await cri.call('StartContainer', { container_id: id });
    // One file from each layer: the overlay shows both.
    expect(await sh('ls /vol/multi/etc/nginx/conf.d/default.conf /vol/multi/bin/busybox')).toBe('/vol/multi/bin/busybox\n/vol/multi/etc/nginx/conf.d/default.conf\n');
    expect(await sh('[ -f /vol/single-bin/busybox ] && echo found')).toBe('found\n');
    expect(await sh('touch /vol/multi/x 2>&1 >/dev/null || echo refused')).toContain('refused');
    expect(await sh('/vol/single-bin/busybox true 2>/dev/null && echo ran || echo noexec')).toBe('noexec\n');
    const opts = await sh("grep -E ' /vol/(multi|single-bin) ' /proc/mounts | cut -d' ' -f2,4");
    for (const line of opts.trim().split('\n')) expect(line.split(' ')[1]!.split(',')).toEqual(expect.arrayContaining(['ro', 'nosuid', 'nodev', 'noexec']));
    const st = await cri.call<{ status: { mounts: { container_path: string; image: { image: string } | null }[] } }>('ContainerStatus', { container_id: id });
    expect(st.status.mounts.map((m) => [m.container_path, m.image?.image])).toEqual([
      ['/vol/multi', ids[MULTI]],
      ['/vol/single-bin', ids[SINGLE]],
    ]);
  });

  it('refuses a sub path outside the image, a missing sub path and a missing image, leaving nothing', async () => {
    const before = mountsUnder(d.dir).length;
    const code = async (mounts: object[]) => grpcCode(await create(`bad${Math.random().toString(36).slice(2, 8)}`, mounts).catch((e: unknown) => e));
    expect(await code([{ container_path: '/v', image: { image: ids[SINGLE] }, image_sub_path: '../..' }])).toBe(status.INVALID_ARGUMENT);
    expect(await code([{ container_path: '/v', image: { image: ids[SINGLE] }, image_sub_path: 'no/such/dir' }])).toBe(status.INVALID_ARGUMENT);
    expect(await code([{ container_path: '/v', image: { image: `sha256:${'0'.repeat(64)}` } }])).toBe(status.NOT_FOUND);
    expect(mountsUnder(d.dir).length).toBe(before);
  });

  it('a micro-VM pod gets the same volume through its share, read-only and noexec in the guest', async () => {
    const vpod = await runTestPod(cri, 'ivvm', d.logDir, { handler: 'microvm', timeoutMs: 240_000 });
    try {
      const vid = await vpod.create('v', MAIN, { mounts: [{ container_path: '/vol/multi', image: { image: ids[MULTI] } }] });
      await cri.call('StartContainer', { container_id: vid }, 240_000);
      expect(await vpod.sh(vid, 'cat /vol/multi/etc/nginx/conf.d/default.conf >/dev/null && echo readable; touch /vol/multi/x 2>/dev/null || echo read-only; /vol/multi/bin/busybox true 2>/dev/null || echo noexec')).toBe('readable\nread-only\nnoexec\n');
    } finally {
      await vpod.remove();
    }
  }, 600_000);

  it('removing the container unmounts the volumes and releases the image', async () => {
    await cri.call('StopContainer', { container_id: id, timeout: 0 });
    await cri.call('RemoveContainer', { container_id: id });
    expect(mountsUnder(d.dir).filter((m) => m.includes('image-volumes'))).toEqual([]);
    await cri.call('RemoveImage', { image: { image: MULTI } });
    const { images } = await cri.call<{ images: { id: string }[] }>('ListImages', {});
    expect(images.map((i) => i.id)).not.toContain(ids[MULTI]);
  });
});
