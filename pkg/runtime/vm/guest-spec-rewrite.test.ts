import { describe, expect, it } from 'vitest';
import { rewriteSpecForGuest } from './guest-spec-rewrite.js';
import { guestRoutes } from './pod-network.js';

describe('rewriteSpecForGuest', () => {
  const files = { resolvConf: '/run/b/pods/p/resolv.conf', hosts: '/run/b/pods/p/hosts', hostname: '/run/b/pods/p/hostname', shm: '/run/b/pods/p/shm' };

  it('maps pod files to the guest, shm to tmpfs, volumes to the share; drops host propagation', () => {
    const spec = {
      mounts: [
        { destination: '/proc', type: 'proc', source: 'proc' },
        { destination: '/etc/resolv.conf', type: 'bind', source: files.resolvConf, options: ['rbind', 'ro'] },
        { destination: '/etc/hosts', type: 'bind', source: files.hosts, options: ['rbind'] },
        { destination: '/etc/hostname', type: 'bind', source: files.hostname, options: ['rbind'] },
        { destination: '/dev/shm', type: 'bind', source: files.shm, options: ['rbind'] },
        { destination: '/data', type: 'bind', source: '/var/lib/kubelet/pods/x/volumes/data', options: ['rbind', 'rprivate', 'rw'] },
        { destination: '/dev/termination-log', source: '/var/lib/kubelet/pods/x/term', options: ['bind'] },
      ],
      linux: { rootfsPropagation: 'rslave', namespaces: [{ type: 'network', path: '/run/b/ns/net' }] },
    };
    const { spec: out, shares } = rewriteSpecForGuest(spec, 'c1', files, () => []);
    const m = out.mounts as { destination: string; source?: string; type?: string; options?: string[] }[];
    expect(m.map((x) => [x.destination, x.source])).toEqual([
      ['/proc', 'proc'],
      ['/etc/resolv.conf', '/etc/resolv.conf'],
      ['/etc/hosts', '/etc/hosts'],
      ['/etc/hostname', '/etc/hostname'],
      ['/dev/shm', 'shm'],
      ['/data', '/run/bulkhead/share/c1/vol0'],
      ['/dev/termination-log', '/run/bulkhead/share/c1/vol1'],
    ]);
    expect(m[4]!.type).toBe('tmpfs');
    expect(m[5]!.options).toEqual(['rbind', 'rw']);
    expect(shares).toEqual([
      { source: '/var/lib/kubelet/pods/x/volumes/data', name: 'vol0', recursive: false, readonly: false },
      { source: '/var/lib/kubelet/pods/x/term', name: 'vol1', recursive: false, readonly: false },
    ]);
    expect((out.linux as Record<string, unknown>).rootfsPropagation).toBeUndefined();
  });

  it('refuses host mount propagation with InvalidArgument', () => {
    for (const prop of ['rslave', 'rshared']) {
      const spec = { mounts: [{ destination: '/m', type: 'bind', source: '/srv/m', options: ['rbind', prop, 'rw'] }] };
      expect(() => rewriteSpecForGuest(spec, 'c1', files, () => [])).toThrow(/propagation .* micro-VM boundary/);
    }
  });

  it('shares host submounts separately (no second mount on their host dentries), with their mode; rro makes them read-only', () => {
    const subs = (dir: string) => (dir === '/srv/v' ? [{ rel: 'tmpfs', readonly: false }, { rel: 'tmpfs/ro', readonly: true }, { rel: 'other', readonly: true }] : []);
    const ro = rewriteSpecForGuest({ mounts: [{ destination: '/mnt', type: 'bind', source: '/srv/v', options: ['rbind', 'rprivate', 'ro'] }] }, 'c1', files, subs);
    expect((ro.spec.mounts as { destination: string; source: string; options: string[] }[]).map((m) => [m.destination, m.source, m.options.join(',')])).toEqual([
      ['/mnt', '/run/bulkhead/share/c1/vol0', 'rbind,ro'],
      ['/mnt/tmpfs', '/run/bulkhead/share/c1/vol0-sub0', 'rbind,rw'],
      ['/mnt/other', '/run/bulkhead/share/c1/vol0-sub1', 'rbind,ro'],
    ]);
    expect(ro.shares).toEqual([
      { source: '/srv/v', name: 'vol0', recursive: false, readonly: true },
      { source: '/srv/v/tmpfs', name: 'vol0-sub0', recursive: true, readonly: false },
      { source: '/srv/v/other', name: 'vol0-sub1', recursive: true, readonly: true },
    ]);
    const rro = rewriteSpecForGuest({ mounts: [{ destination: '/mnt', type: 'bind', source: '/srv/v', options: ['rbind', 'rprivate', 'ro', 'rro'] }] }, 'c1', files, subs);
    expect((rro.spec.mounts as { options: string[] }[]).map((m) => m.options.at(-1))).toEqual(['rro', 'ro', 'ro']);
    // The host binds them read-only as well: the guest's ro is only the guest kernel's word.
    expect(rro.shares.map((x) => x.readonly)).toEqual([true, true, true]);
  });

  it('privileged: host device nodes are replaced by the guest ones (annotation for the agent)', () => {
    const { spec } = rewriteSpecForGuest({ linux: { devices: [{ path: '/dev/sda' }] } }, 'c1', files, () => [], { privileged: true });
    expect((spec.linux as { devices: unknown[] }).devices).toEqual([]);
    expect((spec.annotations as Record<string, string>)['io.bulkhead.vm.guest-devices']).toBe('all');
  });

  it('a memory-backed emptyDir becomes a guest-RAM volume: bound from the agent dir, not shared, ro kept', () => {
    const vol = '/var/lib/kubelet/pods/u/volumes/kubernetes.io~empty-dir/cache';
    const sub = '/var/lib/kubelet/pods/u/volume-subpaths/cache/app/2';
    const eph = (src: string) =>
      src === vol ? { volume: { name: 'cache', sizeBytes: 16 << 20, mode: 0o777, uid: 0, gid: 0 }, rel: '' } : src === sub ? { volume: { name: 'cache', sizeBytes: 16 << 20, mode: 0o777, uid: 0, gid: 0 }, rel: 'logs/app' } : undefined;
    const spec = {
      mounts: [
        { destination: '/cache', type: 'bind', source: vol, options: ['rbind', 'rprivate', 'rw'] },
        { destination: '/ro-cache', type: 'bind', source: vol, options: ['rbind', 'rprivate', 'ro'] },
        { destination: '/logs', type: 'bind', source: sub, options: ['rbind', 'rprivate', 'rw'] },
        { destination: '/data', type: 'bind', source: '/var/lib/kubelet/pods/u/volumes/kubernetes.io~empty-dir/disk', options: ['rbind', 'rw'] },
      ],
    };
    const submounts = (dir: string) => (dir === vol ? [{ rel: 'x', readonly: false }] : []);
    const { spec: out, shares, ephemeral } = rewriteSpecForGuest(spec, 'c1', files, submounts, { ephemeral: eph });
    expect((out.mounts as { destination: string; source: string; type: string; options: string[] }[]).map((m) => [m.destination, m.type, m.source, m.options.join(',')])).toEqual([
      ['/cache', 'bind', '/run/bulkhead/ephemeral/cache', 'rbind,rw'],
      ['/ro-cache', 'bind', '/run/bulkhead/ephemeral/cache', 'rbind,ro'],
      ['/logs', 'bind', '/run/bulkhead/ephemeral/cache/logs/app', 'rbind,rw'],
      ['/data', 'bind', '/run/bulkhead/share/c1/vol0', 'rbind,rw'],
    ]);
    expect(ephemeral).toEqual([{ name: 'cache', sizeBytes: 16 << 20, mode: 0o777, uid: 0, gid: 0 }]);
    // Nothing of the host tmpfs (nor its submounts) goes through virtio-fs.
    expect(shares.map((x) => x.source)).toEqual(['/var/lib/kubelet/pods/u/volumes/kubernetes.io~empty-dir/disk']);
  });

  it('host propagation into a memory-backed emptyDir is refused as for any volume', () => {
    const vol = '/var/lib/kubelet/pods/u/volumes/kubernetes.io~empty-dir/cache';
    const spec = { mounts: [{ destination: '/c', type: 'bind', source: vol, options: ['rbind', 'rslave'] }] };
    expect(() => rewriteSpecForGuest(spec, 'c1', files, () => [], { ephemeral: () => ({ volume: { name: 'cache', sizeBytes: 1, mode: 0o777, uid: 0, gid: 0 }, rel: '' }) })).toThrow(/propagation/);
  });

  it('refuses host devices', () => {
    expect(() => rewriteSpecForGuest({ linux: { devices: [{ path: '/dev/sda' }] } }, 'c1', files)).toThrow(/host devices/);
  });
});

describe('guestRoutes', () => {
  it('fills a missing gateway from the pod IP of the same family', () => {
    expect(
      guestRoutes({
        ips: ['10.1.0.5'],
        ipConfigs: [{ address: '10.1.0.5/24', gateway: '10.1.0.1' }],
        interfaces: [],
        routes: [{ dst: '0.0.0.0/0' }, { dst: '10.2.0.0/16', gw: '10.1.0.254' }, { dst: '::/0' }],
      }),
    ).toEqual([
      { dst: '0.0.0.0/0', gateway: '10.1.0.1' },
      { dst: '10.2.0.0/16', gateway: '10.1.0.254' },
      { dst: '::/0', gateway: '' },
    ]);
  });
});

describe('rewriteSpecForGuest cpusets', () => {
  it('takes the host cpusets out of the guest spec and returns them', () => {
    const spec = { linux: { resources: { cpu: { cpus: '1', mems: '0', shares: 2 } } } };
    const { spec: out, cpusets } = rewriteSpecForGuest(spec, 'c1', {}, () => []);
    expect(cpusets).toEqual({ cpus: '1', mems: '0' });
    expect((out.linux as { resources: unknown }).resources).toEqual({ cpu: { shares: 2 } });
  });
});
