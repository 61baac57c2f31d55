// Kubelet bench: a CDI device handed out by a device plugin, the way GPU plugins do it since
// Kubernetes 1.31 (DevicePluginCDIDevices): the plugin's Allocate names a CDI device, kubelet passes
// the name to the runtime (ContainerConfig.CDI_devices), the runtime applies the node's CDI spec.
// The device is a harmless alias of /dev/null, written by this test.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevicePlugin, type DevicePlugin } from './lib/device-plugin.js';
import {
  connect,
  createNamespace,
  createPod,
  deleteNamespace,
  enabled,
  ensureRuntimeClasses,
  logLines,
  nodeName,
  podSpec,
  running,
  runtimeName,
  shContainer,
  waitFor,
  waitForPod,
  type Cluster,
} from './lib/cluster.js';

const RESOURCE = 'bulkhead.test/null';
const CDI_DIR = join(process.env.KUBELET_E2E_RT_DIR ?? '/run/bulkhead-kubelet-e2e', 'cdi');
// kubelet's device manager listens here whatever its --root-dir (pluginapi.DevicePluginPath).
const PLUGIN_DIR = process.env.KUBELET_E2E_DEVICE_PLUGIN_DIR ?? '/var/lib/kubelet/device-plugins';
const SPEC = `cdiVersion: "0.6.0"
kind: ${RESOURCE}
devices:
  - name: dev0
    containerEdits:
      env: ["BULKHEAD_CDI=dev0"]
      deviceNodes:
        - path: /dev/bulkhead-null
          hostPath: /dev/null
          permissions: rw
`;

// The runtime's CDI spec dir is Bulkhead's kubelet-bench config (e2e/kubelet/runtime.sh).
describe.skipIf(!enabled || runtimeName !== 'bulkhead')(`kubelet + ${runtimeName}: CDI devices from a device plugin`, () => {
  let c: Cluster;
  let ns: string;
  let plugin: DevicePlugin | undefined;

  beforeAll(async () => {
    c = connect();
    await ensureRuntimeClasses();
    mkdirSync(CDI_DIR, { recursive: true });
    writeFileSync(join(CDI_DIR, 'bulkhead-e2e.yaml'), SPEC);
    plugin = await startDevicePlugin({ pluginDir: PLUGIN_DIR, resource: RESOURCE, count: 2, cdiDevice: `${RESOURCE}=dev0` });
    ns = await createNamespace(c, 'kubelet-cdi');
  });
  afterAll(async () => {
    if (ns) await deleteNamespace(c, ns);
    await plugin?.stop();
    rmSync(join(CDI_DIR, 'bulkhead-e2e.yaml'), { force: true });
  });

  it('[handler runc] a pod asking for the resource gets the CDI device node and env', async () => {
    // The node advertises the plugin's devices once kubelet has its first ListAndWatch answer.
    await waitFor(`node ${nodeName} allocatable ${RESOURCE}`, 60_000, async () => {
      const n = await c.core.readNode({ name: nodeName });
      return n.status?.allocatable?.[RESOURCE] === '2' ? true : undefined;
    });
    const script = 'echo "$BULKHEAD_CDI"; [ -c /dev/bulkhead-null ] && echo hi > /dev/bulkhead-null && echo device-ok; sleep 3600';
    await createPod(c, ns, podSpec('cdi', [shContainer('main', script, { resources: { limits: { [RESOURCE]: '1' } } })], { runtimeClassName: 'runc' }));
    await waitForPod(c, ns, 'cdi', 'Running', running);
    const lines = await logLines(ns, 'cdi', 'main', 2);
    expect(lines).toEqual(['dev0', 'device-ok']);
    expect(plugin!.allocations).toHaveLength(1);
  });
});
