// Kubelet bench: image volumes (KEP-4639, GA in Kubernetes 1.36): kubelet pulls the volume's image
// and asks the runtime to mount it (CRI Mount.image); the container sees the image's files
// read-only, with subPath. Runs the same pod on the micro-VM handler when it is enabled.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connect,
  createNamespace,
  createPod,
  deleteNamespace,
  enabled,
  ensureRuntimeClasses,
  logLines,
  NGINX,
  podSpec,
  running,
  runtimeName,
  shContainer,
  vmHandlerReady,
  waitForPod,
  type Cluster,
} from './lib/cluster.js';

const INDEX = '/usr/share/nginx/html/index.html';

describe.skipIf(!enabled)(`kubelet + ${runtimeName}: image volumes`, () => {
  let c: Cluster;
  let ns: string;

  beforeAll(async () => {
    c = connect();
    await ensureRuntimeClasses();
    ns = await createNamespace(c, 'kubelet-iv');
  });
  afterAll(async () => {
    if (ns) await deleteNamespace(c, ns);
  });

  const handlers = ['runc', ...(vmHandlerReady ? ['microvm'] : [])];
  it.each(handlers)("[handler %s] a pod mounts another image's files read-only, whole and by subPath", async (handler) => {
    const name = `iv-${handler}`;
    const script = [
      `grep -c nginx /iv${INDEX}`, // the whole image at /iv
      'grep -c nginx /html/index.html', // subPath usr/share/nginx/html at /html
      'touch /iv/x 2>/dev/null && echo writable || echo read-only',
      'sleep 3600',
    ].join('; ');
    await createPod(
      c,
      ns,
      podSpec(name, [shContainer('main', script, { volumeMounts: [{ name: 'web', mountPath: '/iv' }, { name: 'web', mountPath: '/html', subPath: 'usr/share/nginx/html' }] })], {
        runtimeClassName: handler,
        volumes: [{ name: 'web', image: { reference: NGINX, pullPolicy: 'IfNotPresent' } }],
      }),
    );
    await waitForPod(c, ns, name, 'Running', running, handler === 'microvm' ? 300_000 : 120_000);
    const [whole, sub, rw] = await logLines(ns, name, 'main', 3);
    expect(Number(whole)).toBeGreaterThan(0);
    expect(Number(sub)).toBeGreaterThan(0);
    expect(rw).toBe('read-only');
  });
});
