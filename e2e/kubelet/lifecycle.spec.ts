// Kubelet bench: probes (exec and httpGet), restartPolicy after a container exits, and pod
// deletion with a grace period. Each title names the handler (runc, or default = runc).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NGINX,
  connect,
  createNamespace,
  createPod,
  deleteNamespace,
  enabled,
  ensureRuntimeClasses,
  isStatus,
  podEvents,
  podSpec,
  readPod,
  ready,
  restarts,
  running,
  runtimeName,
  shContainer,
  waitFor,
  waitForPod,
  type Cluster,
} from './lib/cluster.js';

describe.skipIf(!enabled)(`kubelet + ${runtimeName}: probes, restarts, deletion`, () => {
  let c: Cluster;
  let ns: string;

  beforeAll(async () => {
    c = connect();
    await ensureRuntimeClasses();
    ns = await createNamespace(c, 'kubelet-life');
  });
  afterAll(async () => {
    if (ns) await deleteNamespace(c, ns);
  });

  describe('probes', () => {
    it('[handler runc] exec readiness probe: Ready only once the probe command succeeds', async () => {
      await createPod(
        c,
        ns,
        podSpec('ready-exec', [
          shContainer('main', 'sleep 6; touch /tmp/ready; sleep 3600', {
            readinessProbe: { exec: { command: ['cat', '/tmp/ready'] }, periodSeconds: 1, failureThreshold: 1 },
          }),
        ], { runtimeClassName: 'runc' }),
      );
      const p = await waitForPod(c, ns, 'ready-exec', 'Running', running);
      const startedAt = Date.parse(String(p.status?.containerStatuses?.[0]?.state?.running?.startedAt));
      const r = await waitForPod(c, ns, 'ready-exec', 'Ready', ready, 60_000);
      const cond = r.status?.conditions?.find((x) => x.type === 'Ready');
      expect(Date.parse(String(cond?.lastTransitionTime)) - startedAt).toBeGreaterThanOrEqual(5_000);
    });

    it('[handler runc] exec liveness probe failing restarts the container', async () => {
      await createPod(
        c,
        ns,
        podSpec('live-exec', [
          shContainer('main', 'touch /tmp/healthy; sleep 4; rm /tmp/healthy; sleep 3600', {
            livenessProbe: { exec: { command: ['cat', '/tmp/healthy'] }, periodSeconds: 1, failureThreshold: 2 },
          }),
        ], { runtimeClassName: 'runc' }),
      );
      const p = await waitForPod(c, ns, 'live-exec', 'restarted', (x) => restarts(x) >= 1, 120_000);
      expect(p.status?.containerStatuses?.[0]?.lastState?.terminated).toBeDefined();
      const evs = await podEvents(c, ns, 'live-exec');
      expect(evs.some((e) => e.reason === 'Unhealthy' && /Liveness probe failed/.test(e.message ?? ''))).toBe(true);
    });

    it('[handler default (runc)] httpGet readiness and liveness probes against nginx', async () => {
      await createPod(
        c,
        ns,
        podSpec('http-probes', [
          {
            name: 'nginx',
            image: NGINX,
            imagePullPolicy: 'IfNotPresent',
            readinessProbe: { httpGet: { path: '/', port: 80 }, periodSeconds: 1 },
            livenessProbe: { httpGet: { path: '/', port: 80 }, periodSeconds: 2, failureThreshold: 3 },
          },
        ]),
      );
      await waitForPod(c, ns, 'http-probes', 'Ready', ready, 90_000);
      await new Promise((r) => setTimeout(r, 8_000)); // several liveness periods
      const p = await readPod(c, ns, 'http-probes');
      expect(ready(p)).toBe(true);
      expect(restarts(p)).toBe(0);
    });

    it('[handler default (runc)] failing httpGet liveness probe (404) restarts the container', async () => {
      await createPod(
        c,
        ns,
        podSpec('http-live-404', [
          {
            name: 'nginx',
            image: NGINX,
            imagePullPolicy: 'IfNotPresent',
            livenessProbe: { httpGet: { path: '/no-such-page', port: 80 }, periodSeconds: 1, failureThreshold: 2 },
          },
        ]),
      );
      await waitForPod(c, ns, 'http-live-404', 'restarted', (x) => restarts(x) >= 1, 120_000);
      const evs = await podEvents(c, ns, 'http-live-404');
      expect(evs.some((e) => e.reason === 'Unhealthy' && /404/.test(e.message ?? ''))).toBe(true);
    });
  });

  describe('restartPolicy', () => {
    it('[handler runc] Always: a container that exits 0 is restarted', async () => {
      await createPod(c, ns, podSpec('rp-always', [shContainer('main', 'echo run; sleep 1; exit 0')], { restartPolicy: 'Always', runtimeClassName: 'runc' }));
      const p = await waitForPod(c, ns, 'rp-always', 'restarted', (x) => restarts(x) >= 1, 120_000);
      expect(p.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode).toBe(0);
    });

    it('[handler runc] OnFailure: exit 1 is restarted, exit 0 ends the pod Succeeded', async () => {
      await createPod(c, ns, podSpec('rp-onfail-1', [shContainer('main', 'sleep 1; exit 1')], { restartPolicy: 'OnFailure', runtimeClassName: 'runc' }));
      await createPod(c, ns, podSpec('rp-onfail-0', [shContainer('main', 'sleep 1; exit 0')], { restartPolicy: 'OnFailure', runtimeClassName: 'runc' }));
      const failed = await waitForPod(c, ns, 'rp-onfail-1', 'restarted', (x) => restarts(x) >= 1, 120_000);
      expect(failed.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode).toBe(1);
      const ok = await waitForPod(c, ns, 'rp-onfail-0', 'Succeeded', (x) => x.status?.phase === 'Succeeded', 120_000);
      expect(restarts(ok)).toBe(0);
      expect(ok.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(0);
    });

    it('[handler runc] Never: exit 1 ends the pod Failed and it is not restarted', async () => {
      await createPod(c, ns, podSpec('rp-never', [shContainer('main', 'sleep 1; exit 1')], { restartPolicy: 'Never', runtimeClassName: 'runc' }));
      const p = await waitForPod(c, ns, 'rp-never', 'Failed', (x) => x.status?.phase === 'Failed', 120_000);
      expect(p.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(1);
      await new Promise((r) => setTimeout(r, 12_000));
      const later = await readPod(c, ns, 'rp-never');
      expect(restarts(later)).toBe(0);
      expect(later.status?.phase).toBe('Failed');
    });
  });

  describe('deletion', () => {
    const gone = (name: string, timeoutMs: number): Promise<true> =>
      waitFor(`${name} deleted`, timeoutMs, async () => {
        try {
          await readPod(c, ns, name);
          return undefined;
        } catch (err) {
          if (isStatus(err, 404)) return true;
          throw err;
        }
      });

    it('[handler runc] a container that handles SIGTERM exits early: pod gone well before its 30 s grace', async () => {
      await createPod(
        c,
        ns,
        podSpec('del-term', [shContainer('main', "trap 'echo got TERM; exit 0' TERM; while true; do sleep 1; done")], {
          runtimeClassName: 'runc',
          terminationGracePeriodSeconds: 30,
        }),
      );
      await waitForPod(c, ns, 'del-term', 'Running', running);
      const t0 = Date.now();
      await c.core.deleteNamespacedPod({ namespace: ns, name: 'del-term', gracePeriodSeconds: 30 });
      await gone('del-term', 60_000);
      expect(Date.now() - t0).toBeLessThan(25_000);
    });

    it('[handler runc] a container that ignores SIGTERM is killed after the grace period', async () => {
      await createPod(
        c,
        ns,
        podSpec('del-ignore', [shContainer('main', "trap '' TERM; while true; do sleep 1; done")], {
          runtimeClassName: 'runc',
          terminationGracePeriodSeconds: 30,
        }),
      );
      await waitForPod(c, ns, 'del-ignore', 'Running', running);
      const t0 = Date.now();
      await c.core.deleteNamespacedPod({ namespace: ns, name: 'del-ignore', gracePeriodSeconds: 4 });
      await gone('del-ignore', 60_000);
      const took = Date.now() - t0;
      expect(took).toBeGreaterThanOrEqual(3_500);
      expect(took).toBeLessThan(30_000);
    });
  });
});
