// A micro-VM pod on a pod network with an overlay's MTU (1450): the guest NIC and the tap take the
// CNI interface's MTU, so what the guest sends fits the pod network. Before, the guest kept 1500 and
// its larger frames were dropped at the veth.
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownDaemon, VM_HANDLERS_TOML, teardownPodDaemon, type OwnDaemon } from './lib/own-daemon.js';
import { criClient, type CriClient } from './lib/cri-grpc.js';

const run = promisify(execFile);
const IMAGE = 'docker.io/library/busybox:latest';
const MTU = 1450;
const isRoot = process.getuid?.() === 0;
const vmEnabled = process.env.BULKHEAD_RELIABILITY_VM !== '0';

describe.skipIf(!isRoot || !vmEnabled)('micro-VM pod on a 1450-MTU network', () => {
  let d: OwnDaemon;
  let cri: CriClient;
  let pod = '';
  let ctr = '';
  let podIp = '';

  beforeAll(async () => {
    d = ownDaemon('vm-mtu', { extraToml: VM_HANDLERS_TOML, bridgeMtu: MTU });
    await d.start();
    await d.crictl('pull', IMAGE);
    cri = criClient(d.sock);
    const cfg = { metadata: { name: 'mtu', namespace: 'mtu', uid: 'mtu-uid', attempt: 0 }, log_directory: join(d.logDir, 'mtu'), linux: {} };
    ({ pod_sandbox_id: pod } = await cri.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: cfg, runtime_handler: 'microvm' }, 180_000));
    ({ container_id: ctr } = await cri.call<{ container_id: string }>('CreateContainer', {
      pod_sandbox_id: pod,
      config: { metadata: { name: 'c', attempt: 0 }, image: { image: IMAGE }, command: ['sleep', '3600'], log_path: 'c.log' },
      sandbox_config: cfg,
    }, 180_000));
    await cri.call('StartContainer', { container_id: ctr }, 180_000);
    podIp = (await cri.call<{ status: { network: { ip: string } } }>('PodSandboxStatus', { pod_sandbox_id: pod })).status.network.ip;
  });
  afterAll(async () => {
    await teardownPodDaemon(cri, pod, d);
  });

  const execOut = async (cmd: string[], timeout = 60): Promise<string> =>
    (await cri.call<{ stdout: Buffer; exit_code: number }>('ExecSync', { container_id: ctr, cmd, timeout }, (timeout + 15) * 1000)).stdout.toString();

  it('the guest NIC and the tap carry the CNI interface MTU', async () => {
    const netns = join(d.state, 'pods', pod, 'ns', 'net');
    // netlink, not /sys/class/net: sysfs in a process that only entered the netns shows the host's links
    const hostSide = async (dev: string): Promise<string> => /\smtu (\d+)/.exec((await run('nsenter', [`--net=${netns}`, 'ip', '-o', 'link', 'show', 'dev', dev])).stdout)![1]!;
    const guest = (await execOut(['cat', '/sys/class/net/eth0/mtu'])).trim();
    expect(await hostSide('eth0')).toBe(String(MTU));
    expect(await hostSide('tap0_vm')).toBe(String(MTU));
    expect(guest).toBe(String(MTU));
  });

  it('passes a 1400-byte ping and a 20 MB TCP transfer from the guest', async () => {
    // 1372 bytes of payload + 8 ICMP + 20 IP = 1400
    await run('/bin/busybox', ['ping', '-c', '1', '-W', '10', '-s', '1372', podIp]);
    let got = 0;
    const done = new Promise<void>((resolve) => {
      const srv = createServer((sock) => {
        // busybox nc need not half-close at its stdin's EOF: the byte count ends the transfer.
        const finish = (): void => {
          sock.destroy();
          srv.close();
          resolve();
        };
        sock.on('data', (b: Buffer) => {
          got += b.length;
          if (got >= 20_000_000) finish();
        });
        sock.on('end', finish);
      });
      srv.listen(0, `${d.subnetPrefix}.1`, () => {
        const port = (srv.address() as { port: number }).port;
        void execOut(['sh', '-c', `head -c 20000000 /dev/zero | nc ${d.subnetPrefix}.1 ${port}`], 120);
      });
    });
    await done;
    expect(got).toBe(20_000_000);
  });
});
