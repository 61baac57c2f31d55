// Fakes of what the managers do on the host: the cgroup driver (no /sys writes), the pod network
// (CNI), the image store, and the two mounting steps (pod files' shm tmpfs, the rootfs overlay).
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CgroupfsDriver } from '../../pkg/cgroups/driver.js';
import type { CgroupResources } from '../../pkg/cgroups/pod-cgroup.js';
import type { ImageRecordLike, ImageSource } from '../../pkg/container/image-source.js';
import type { RootfsMounter } from '../../pkg/container/container-manager.js';
import type { PodNetworkRequest, PodNetworkStatus } from '../../pkg/network/cni.js';
import type { PodFiles, PodNetwork } from '../../pkg/sandbox/sandbox-manager.js';
import { writePodFiles } from '../../pkg/sandbox/pod-files.js';
import type { SandboxRecord } from '../../pkg/store/records.js';
import { Failures, Journal } from './journal.js';

/** cgroupfs naming rules (podParent refusals included); the tree writes are only recorded. */
export class FakeCgroupDriver extends CgroupfsDriver {
  readonly podUpdates: { parent: string; resources: CgroupResources }[] = [];
  readonly ensured: { parent: string; owned: boolean }[] = [];
  readonly removed: string[] = [];

  override async ensurePod(parent: string, _resources: CgroupResources, owned: boolean): Promise<void> {
    this.ensured.push({ parent, owned });
  }

  override async updatePod(parent: string, resources: CgroupResources): Promise<void> {
    this.podUpdates.push({ parent, resources });
  }

  override async removePod(parent: string): Promise<void> {
    this.removed.push(parent);
  }
}

/** CNI: hands out 10.88.0.<n>, records ADD/DEL (journal "network.setUp"/"network.tearDown"). */
export class FakePodNetwork implements PodNetwork {
  readonly failures = new Failures();
  private next = 2;

  constructor(private readonly journal: Journal) {}

  async setUp(req: PodNetworkRequest): Promise<PodNetworkStatus> {
    this.journal.record('network.setUp', req.podId);
    this.failures.check('setUp');
    const ip = `10.88.0.${this.next++}`;
    return { ips: [ip], ipConfigs: [{ address: `${ip}/16`, gateway: '10.88.0.1', interface: 'eth0' }], interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:01' }], routes: [] };
  }

  async tearDown(req: PodNetworkRequest): Promise<void> {
    this.journal.record('network.tearDown', req.podId);
    this.failures.check('tearDown');
  }
}

/** Images by tag or id; layers are empty dirs under `layersDir`; leases are tracked. */
export class FakeImageSource implements ImageSource {
  readonly images: ImageRecordLike[] = [];
  /** lease id → image id, while held. */
  readonly leases = new Map<string, string>();

  constructor(private readonly layersDir: string) {
    this.add('busybox:latest', { Cmd: ['sh'] });
  }

  add(tag: string, config: ImageRecordLike['config']['config'] = {}): ImageRecordLike {
    const id = `sha256:${String(this.images.length + 1).padStart(64, '0')}`;
    const img: ImageRecordLike = { id, repoTags: [tag], repoDigests: [`${tag.split(':')[0]}@${id}`], config: { config } };
    this.images.push(img);
    return img;
  }

  resolve(refOrId: string): ImageRecordLike | undefined {
    return this.images.find((i) => i.id === refOrId || i.repoTags.includes(refOrId));
  }

  async acquireLayers(imageId: string, leaseId: string): Promise<string[]> {
    const dir = join(this.layersDir, imageId.replace(':', '-'));
    await mkdir(dir, { recursive: true });
    this.leases.set(leaseId, imageId);
    return [dir];
  }

  async releaseLayers(leaseId: string): Promise<void> {
    this.leases.delete(leaseId);
  }
}

/** The real resolv.conf/hosts/hostname files; /dev/shm a plain directory instead of a tmpfs. */
export function fakePodFiles(journal: Journal): PodFiles {
  return {
    async write(sb: SandboxRecord, hostIpc: boolean, hostNet: boolean) {
      journal.record('podFiles.write', sb.id);
      await writePodFiles(sb, true, hostNet);
      if (!hostIpc) {
        const shm = join(sb.stateDir, 'shm');
        await mkdir(shm, { recursive: true });
        sb.files.shm = shm;
      }
    },
    async remove(sb: SandboxRecord) {
      journal.record('podFiles.remove', sb.id);
      await Promise.all(['hostname', 'resolv.conf', 'hosts'].map((f) => rm(join(sb.dir, f), { force: true })));
      await rm(join(sb.stateDir, 'shm'), { recursive: true, force: true });
    },
  };
}

/** rootfs/upper/work as plain directories (no overlay); removal deletes the container dir. */
export function fakeRootfs(journal: Journal): RootfsMounter {
  return {
    async mount(containerDir: string, lowerdirs: string[]) {
      journal.record('rootfs.mount', containerDir);
      if (!lowerdirs.length) throw new Error('image has no layers');
      const rootfs = join(containerDir, 'rootfs');
      await Promise.all([rootfs, join(containerDir, 'upper'), join(containerDir, 'work')].map((d) => mkdir(d, { recursive: true })));
      return rootfs;
    },
    async unmount(containerDir: string) {
      journal.record('rootfs.unmount', containerDir);
    },
    async removeDir(containerDir: string) {
      await rm(containerDir, { recursive: true, force: true });
    },
  };
}
