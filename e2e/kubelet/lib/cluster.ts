// Helpers for the kubelet bench specs: a client for the loopback cluster that
// e2e/cluster/up.sh brought up (admin kubeconfig in $BULKHEAD_KUBECONFIG), one namespace per
// spec file, pod builders and polling waits. The specs are skipped unless
// BULKHEAD_KUBELET_E2E=1 (e2e/kubelet/run.sh sets it after the cluster is up).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  ApiException,
  CoreV1Api,
  KubeConfig,
  NodeV1Api,
  type CoreV1Event,
  type V1Container,
  type V1Pod,
  type V1PodSpec,
} from '@kubernetes/client-node';

const execFileP = promisify(execFile);

export const enabled = process.env.BULKHEAD_KUBELET_E2E === '1';
/** Which CRI runtime serves the node: "bulkhead" or "containerd" (reference run). */
export const runtimeName = process.env.KUBELET_E2E_RUNTIME ?? 'bulkhead';
export const nodeName = process.env.NODE_NAME ?? 'bulkhead-e2e-node';
export const kubeconfigPath = process.env.BULKHEAD_KUBECONFIG ?? '/var/lib/bulkhead-kcluster/admin.kubeconfig';
export const kubectlPath = process.env.KUBECTL ?? 'kubectl';
/** Set once the VM handler can run pods on this machine. */
export const vmHandlerReady = process.env.BULKHEAD_KUBELET_E2E_VM === '1';

/** Test images: the loopback registry serves them through the registry.k8s.io mirror. */
export const BUSYBOX = 'registry.k8s.io/e2e-test-images/busybox:1.29-2';
export const NGINX = 'registry.k8s.io/e2e-test-images/nginx:1.14-2';

export interface Cluster {
  kc: KubeConfig;
  core: CoreV1Api;
  node: NodeV1Api;
}

export function connect(): Cluster {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return { kc, core: kc.makeApiClient(CoreV1Api), node: kc.makeApiClient(NodeV1Api) };
}

export function isStatus(err: unknown, code: number): boolean {
  return err instanceof ApiException && err.code === code;
}

/**
 * A fresh namespace with the "default" ServiceAccount the ServiceAccount admission plugin
 * insists on (no controller manager runs to create it).
 */
export async function createNamespace(c: Cluster, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await c.core.createNamespace({ body: { metadata: { name, labels: { 'bulkhead-e2e': 'kubelet' } } } });
  await c.core.createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: 'default' } } });
  return name;
}

/**
 * Deletes every pod of the namespace and waits until the kubelet has removed them (so a leak
 * shows up in the spec that caused it), then deletes the namespace itself. Without the
 * namespace controller it stays Terminating; down.sh wipes etcd anyway.
 */
export async function deleteNamespace(c: Cluster, namespace: string): Promise<void> {
  await c.core.deleteCollectionNamespacedPod({ namespace, gracePeriodSeconds: 1 }).catch(() => undefined);
  await waitFor(`pods of ${namespace} gone`, 120_000, async () => {
    const pods = await c.core.listNamespacedPod({ namespace });
    return pods.items.length === 0 ? true : undefined;
  }).catch(() => undefined);
  await c.core.deleteNamespace({ name: namespace }).catch(() => undefined);
}

/**
 * Applies deploy/runtimeclasses.yaml (runc, crun, microvm): every spec file calls it, since
 * pods naming a RuntimeClass are rejected at admission until the class exists.
 */
export async function ensureRuntimeClasses(): Promise<void> {
  await kubectl(['apply', '-f', join(import.meta.dirname, '..', '..', '..', 'deploy', 'runtimeclasses.yaml')]);
}

/** Pod bound to our node (no scheduler), no service account token, no service env vars. */
export function podSpec(name: string, containers: V1Container[], extra: Partial<V1PodSpec> = {}): V1Pod {
  return {
    metadata: { name, labels: { app: name } },
    spec: {
      nodeName,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 2,
      containers,
      ...extra,
    },
  };
}

export function shContainer(name: string, script: string, extra: Partial<V1Container> = {}): V1Container {
  return { name, image: BUSYBOX, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', script], ...extra };
}

export async function createPod(c: Cluster, namespace: string, pod: V1Pod): Promise<V1Pod> {
  return c.core.createNamespacedPod({ namespace, body: pod });
}

export async function readPod(c: Cluster, namespace: string, name: string): Promise<V1Pod> {
  return c.core.readNamespacedPod({ namespace, name });
}

/** Polls fn every 500 ms until it returns a value other than undefined. */
export async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Waits for a pod condition; fails fast (with its events) if the pod ends up Failed. */
export async function waitForPod(
  c: Cluster,
  namespace: string,
  name: string,
  what: string,
  pred: (p: V1Pod) => boolean,
  timeoutMs = 120_000,
): Promise<V1Pod> {
  try {
    return await waitFor(`${namespace}/${name} ${what}`, timeoutMs, async () => {
      const p = await readPod(c, namespace, name);
      return pred(p) ? p : undefined;
    });
  } catch (err) {
    const events = await podEvents(c, namespace, name).catch(() => []);
    const pod = await readPod(c, namespace, name).catch(() => undefined);
    throw new Error(
      `${String(err)}\nphase=${pod?.status?.phase} containerStatuses=${JSON.stringify(pod?.status?.containerStatuses ?? [])}\n` +
        `events:\n${events.map((e) => `  ${e.reason}: ${e.message}`).join('\n')}`,
    );
  }
}

export const running = (p: V1Pod): boolean => p.status?.phase === 'Running';
export const ready = (p: V1Pod): boolean =>
  p.status?.conditions?.some((cond) => cond.type === 'Ready' && cond.status === 'True') ?? false;
export const restarts = (p: V1Pod, container?: string): number =>
  p.status?.containerStatuses?.find((s) => container === undefined || s.name === container)?.restartCount ?? 0;

export async function podEvents(c: Cluster, namespace: string, name: string): Promise<CoreV1Event[]> {
  const list = await c.core.listNamespacedEvent({
    namespace,
    fieldSelector: `involvedObject.kind=Pod,involvedObject.name=${name}`,
  });
  return list.items;
}

/** Runs kubectl against the test cluster; resolves with stdout (rejects with stderr on failure). */
export async function kubectl(args: string[], timeoutMs = 60_000): Promise<string> {
  const { stdout } = await execFileP(kubectlPath, ['--kubeconfig', kubeconfigPath, ...args], {
    timeout: timeoutMs,
    maxBuffer: 16 << 20,
  });
  return stdout;
}

/** The first `n` non-empty lines of a container's log, polled for 20 s (a Running pod may not have printed yet). */
export async function logLines(namespace: string, pod: string, container: string, n: number): Promise<string[]> {
  let lines: string[] = [];
  for (let i = 0; i < 40 && lines.length < n; i++) {
    lines = (await kubectl(['logs', '-n', namespace, pod, '-c', container])).trim().split('\n').filter(Boolean);
    if (lines.length < n) await new Promise((r) => setTimeout(r, 500));
  }
  return lines;
}

/** Starts a long-running kubectl (port-forward); the caller kills it. */
export function kubectlSpawn(args: string[]): ChildProcess {
  return spawn(kubectlPath, ['--kubeconfig', kubeconfigPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}
