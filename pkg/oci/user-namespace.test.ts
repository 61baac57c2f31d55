import { describe, expect, it } from 'vitest';
import type * as cri from '../api/cri-types.js';
import { checkContainerUserNamespace, ociMappings, podUserNamespace } from './user-namespace.js';

type Map = { container_id: number; host_id: number; length: number };
const KUBELET: Map = { container_id: 0, host_id: 65536, length: 65536 };

function opts(mode: cri.NamespaceMode__Output, uids: Map[] = [KUBELET], gids: Map[] = uids, over: Partial<cri.NamespaceOption__Output> = {}): cri.NamespaceOption__Output {
  return { network: 'POD', pid: 'POD', ipc: 'POD', target_id: '', userns_options: { mode, uids, gids }, ...over };
}

describe('podUserNamespace', () => {
  it('no options or mode NODE: the host user namespace', () => {
    expect(podUserNamespace(null, 'pod p')).toBeUndefined();
    expect(podUserNamespace({ ...opts('POD'), userns_options: null }, 'pod p')).toBeUndefined();
    expect(podUserNamespace(opts('NODE', []), 'pod p')).toBeUndefined();
    expect(() => podUserNamespace(opts('NODE'), 'pod p')).toThrow(/NODE takes no mappings/);
  });

  it('mode POD: the one uid and gid range, as kubelet sends them', () => {
    expect(podUserNamespace(opts('POD', [KUBELET], [{ container_id: 0, host_id: 131072, length: 65536 }]), 'pod p')).toEqual({
      uids: { containerId: 0, hostId: 65536, size: 65536 },
      gids: { containerId: 0, hostId: 131072, size: 65536 },
    });
  });

  it.each([
    ['no uid mapping', opts('POD', [], [KUBELET]), /exactly one uid mapping, got 0/],
    ['two uid mappings (critest)', opts('POD', [KUBELET, { container_id: 0, host_id: 2000, length: 100000 }]), /exactly one uid mapping, got 2/],
    ['no gid mapping', opts('POD', [KUBELET], []), /exactly one gid mapping, got 0/],
    ['container id 1 (critest)', opts('POD', [{ container_id: 1, host_id: 1000, length: 100000 }]), /container id 0 \(got 1\)/],
    ['length 0', opts('POD', [{ container_id: 0, host_id: 65536, length: 0 }]), /at least 1/],
    ['host id 0', opts('POD', [{ container_id: 0, host_id: 0, length: 65536 }]), /must not include host id 0/],
    ['past the last host id', opts('POD', [{ container_id: 0, host_id: 0xffff0000, length: 65536 }]), /runs past the last host id 4294967294/],
    ['mode CONTAINER (critest)', opts('CONTAINER'), /mode CONTAINER is not supported/],
    ['mode TARGET (critest)', opts('TARGET'), /mode TARGET is not supported/],
    ['host network', opts('POD', [KUBELET], [KUBELET], { network: 'NODE' }), /cannot share the host's network namespace/],
    ['host IPC', opts('POD', [KUBELET], [KUBELET], { ipc: 'NODE' }), /host's ipc namespace/],
    ['host PID', opts('POD', [KUBELET], [KUBELET], { pid: 'NODE' }), /host's pid namespace/],
  ])('refuses %s with InvalidArgument', (_what, o, msg) => {
    expect(() => podUserNamespace(o, 'pod p')).toThrow(msg);
    try {
      podUserNamespace(o, 'pod p');
    } catch (e) {
      expect((e as { kind?: string }).kind).toBe('invalid-argument');
    }
  });

  it('the last usable host range is accepted', () => {
    expect(podUserNamespace(opts('POD', [{ container_id: 0, host_id: 0xfffffffe - 65535, length: 65536 }]), 'pod p')?.uids.size).toBe(65536);
  });
});

describe('checkContainerUserNamespace', () => {
  const pod = podUserNamespace(opts('POD'), 'pod p');
  it("a container inherits or repeats its pod's namespace", () => {
    expect(() => checkContainerUserNamespace(null, pod, 'c')).not.toThrow();
    expect(() => checkContainerUserNamespace({ ...opts('POD'), userns_options: null }, pod, 'c')).not.toThrow();
    expect(() => checkContainerUserNamespace(opts('POD'), pod, 'c')).not.toThrow();
    expect(() => checkContainerUserNamespace(opts('NODE', []), undefined, 'c')).not.toThrow();
  });
  it("a container's own, different namespace is refused", () => {
    expect(() => checkContainerUserNamespace(opts('POD', [{ container_id: 0, host_id: 131072, length: 65536 }]), pod, 'c')).toThrow(/differ from its pod's/);
    expect(() => checkContainerUserNamespace(opts('NODE', []), pod, 'c')).toThrow(/differ from its pod's/);
    expect(() => checkContainerUserNamespace(opts('POD'), undefined, 'c')).toThrow(/differ from its pod's/);
  });
});

it('ociMappings', () => {
  expect(ociMappings({ containerId: 0, hostId: 65536, size: 65536 })).toEqual([{ containerID: 0, hostID: 65536, size: 65536 }]);
});
