import { describe, expect, it } from 'vitest';
import { emptyDirOf, probeEphemeral, TMPFS_MAGIC, type HostFs } from './ephemeral-volume.js';

const POD = '/var/lib/kubelet/pods/0f1e-uid';
const VOL = `${POD}/volumes/kubernetes.io~empty-dir/cache`;
const SUB = `${POD}/volume-subpaths/cache/app/0`;
const EXT4_MAGIC = 0xef53;

/** A host whose paths have the given statfs type; records what was probed. */
function fakeFs(types: Record<string, number>, mountinfo = '', mountPoints: string[] = [VOL]): HostFs & { probed: string[] } {
  const probed: string[] = [];
  return {
    probed,
    statfs(p) {
      probed.push(p);
      const type = types[p];
      if (type === undefined) throw Object.assign(new Error(`ENOENT ${p}`), { code: 'ENOENT' });
      return { type, bsize: 4096, blocks: 4096 }; // 16 MiB
    },
    // Mount points get a device of their own; everything else is on the root's. kubelet chowned it to fsGroup 123.
    stat: (p) => ({ dev: mountPoints.includes(p) ? 77 : 1, mode: 0o42777, uid: 0, gid: 123 }),
    mountinfo: () => mountinfo,
  };
}

describe('emptyDirOf', () => {
  it('names the volume of a kubelet emptyDir path and of a subPath bind into one', () => {
    expect(emptyDirOf(VOL)).toEqual({ volumeDir: VOL, name: 'cache', subPath: false });
    expect(emptyDirOf(VOL + '/')).toEqual({ volumeDir: VOL, name: 'cache', subPath: false });
    expect(emptyDirOf(SUB)).toEqual({ volumeDir: VOL, name: 'cache', subPath: true });
    // Another kubelet root dir works the same.
    expect(emptyDirOf('/tmp/x/pods/u/volumes/kubernetes.io~empty-dir/v')?.name).toBe('v');
  });

  it('ignores every other path', () => {
    for (const p of [
      `${POD}/volumes/kubernetes.io~configmap/cache`,
      `${POD}/volumes/kubernetes.io~empty-dir/cache/file`,
      `${POD}/volumes/kubernetes.io~empty-dir`,
      `${POD}/etc-hosts`,
      'volumes/kubernetes.io~empty-dir/cache',
      `/pods/u/volumes/kubernetes.io~empty-dir/..`,
      `${POD}/volume-subpaths/cache/app`,
      '/srv/data',
    ]) {
      expect(emptyDirOf(p), p).toBeUndefined();
    }
  });
});

describe('probeEphemeral', () => {
  it('a tmpfs emptyDir is a guest-RAM volume with the host size and mode', () => {
    const fs = fakeFs({ [VOL]: TMPFS_MAGIC });
    expect(probeEphemeral(VOL, fs)).toEqual({ volume: { name: 'cache', sizeBytes: 16 << 20, mode: 0o2777, uid: 0, gid: 123 }, rel: '' });
  });

  it('a disk-backed emptyDir stays a share; other paths are not even probed', () => {
    const fs = fakeFs({ [VOL]: EXT4_MAGIC, '/srv/data': TMPFS_MAGIC });
    expect(probeEphemeral(VOL, fs)).toBeUndefined();
    expect(probeEphemeral('/srv/data', fs)).toBeUndefined();
    expect(probeEphemeral('/run/b/pods/p/shm', fs)).toBeUndefined();
    expect(fs.probed).toEqual([VOL]);
  });

  it('a plain dir on a tmpfs-rooted kubelet dir (no tmpfs of its own) stays a share', () => {
    expect(probeEphemeral(VOL, fakeFs({ [VOL]: TMPFS_MAGIC }, '', []))).toBeUndefined();
  });

  it('a path that cannot be probed is left to the share (whose bind reports it)', () => {
    expect(probeEphemeral(VOL, fakeFs({}))).toBeUndefined();
  });

  it('a subPath bind of the tmpfs maps to its dir inside the volume (mountinfo root)', () => {
    const info = [
      `812 29 0:77 / ${VOL} rw,relatime - tmpfs tmpfs rw,size=16384k,mode=777`,
      `813 29 0:77 /logs/app ${SUB} rw,relatime - tmpfs tmpfs rw,size=16384k,mode=777`,
    ].join('\n');
    expect(probeEphemeral(SUB, fakeFs({ [VOL]: TMPFS_MAGIC }, info))).toEqual({ volume: { name: 'cache', sizeBytes: 16 << 20, mode: 0o2777, uid: 0, gid: 123 }, rel: 'logs/app' });
  });

  it('a subPath that is not a bind of that very tmpfs stays a share', () => {
    const otherDev = [`812 29 0:77 / ${VOL} rw - tmpfs tmpfs rw`, `813 29 0:78 /logs ${SUB} rw - tmpfs tmpfs rw`].join('\n');
    expect(probeEphemeral(SUB, fakeFs({ [VOL]: TMPFS_MAGIC }, otherDev))).toBeUndefined();
    const deleted = [`812 29 0:77 / ${VOL} rw - tmpfs tmpfs rw`, `813 29 0:77 /logs//deleted ${SUB} rw - tmpfs tmpfs rw`].join('\n');
    expect(probeEphemeral(SUB, fakeFs({ [VOL]: TMPFS_MAGIC }, deleted))).toBeUndefined();
    const notMounted = `812 29 0:77 / ${VOL} rw - tmpfs tmpfs rw`;
    expect(probeEphemeral(SUB, fakeFs({ [VOL]: TMPFS_MAGIC }, notMounted))).toBeUndefined();
  });

  it('undoes mountinfo escapes in the subPath', () => {
    const info = [`812 29 0:77 / ${VOL} rw - tmpfs tmpfs rw`, `813 29 0:77 /my\\040dir ${SUB} rw - tmpfs tmpfs rw`].join('\n');
    expect(probeEphemeral(SUB, fakeFs({ [VOL]: TMPFS_MAGIC }, info))?.rel).toBe('my dir');
  });
});
