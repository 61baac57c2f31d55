// Kubelet bench: a pod with hostUsers: false (user namespaces, GA in Kubernetes 1.36). kubelet
// picks the pod's host id range and sends it as NamespaceOption.userns_options; the container is
// root inside and an unprivileged range outside.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connect,
  createNamespace,
  createPod,
  deleteNamespace,
  enabled,
  ensureRuntimeClasses,
  logLines,
  podSpec,
  running,
  runtimeName,
  shContainer,
  waitForPod,
  type Cluster,
} from './lib/cluster.js';

describe.skipIf(!enabled)(`kubelet + ${runtimeName}: user namespaces`, () => {
  let c: Cluster;
  let ns: string;

  beforeAll(async () => {
    c = connect();
    await ensureRuntimeClasses();
    ns = await createNamespace(c, 'kubelet-userns');
  });
  afterAll(async () => {
    if (ns) await deleteNamespace(c, ns);
  });

  it('[handler runc] a hostUsers: false pod runs as root inside an unprivileged id range', async () => {
    const script = 'id -u; cat /proc/self/uid_map; cat /proc/self/gid_map; echo x > /tmp/f && echo writable; sleep 3600';
    await createPod(c, ns, podSpec('userns', [shContainer('main', script)], { runtimeClassName: 'runc', hostUsers: false }));
    await waitForPod(c, ns, 'userns', 'Running', running);
    const lines = await logLines(ns, 'userns', 'main', 4);
    expect(lines[0]).toBe('0');
    // "<inside> <outside> <length>": 0 maps to a host id above 0, 65536 ids (kubelet's default).
    for (const map of [lines[1]!, lines[2]!]) {
      const [inside, outside, length] = map.trim().split(/\s+/).map(Number);
      expect(inside).toBe(0);
      expect(outside).toBeGreaterThan(0);
      expect(length).toBe(65536);
    }
    expect(lines[3]).toBe('writable');
  });
});
