// kubelet's pod CIDR (UpdateRuntimeConfig) reaches the pod network through cni.conf_template, as
// with containerd's conf_template: the template is rendered into the CNI conf dir and the next
// pod's IP comes from that range. A malformed CIDR is InvalidArgument and changes nothing.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { criClient, grpcCode, type CriClient } from './lib/cri-grpc.js';
import { ownDaemon, type OwnDaemon } from './lib/own-daemon.js';

describe('pod CIDR from kubelet → CNI config (cni.conf_template)', () => {
  let d: OwnDaemon;
  let cri: CriClient;
  let template = '';
  const pods: string[] = [];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bulkhead-podcidr-tpl-'));
    template = join(dir, 'template.conflist');
    // A bridge of its own: the daemon's default one must not be reused with another subnet.
    const bridge = `bhc${randomBytes(3).toString('hex')}`;
    writeFileSync(
      template,
      `{"cniVersion":"1.0.0","name":"tpl","plugins":[{"type":"bridge","bridge":"${bridge}","isGateway":true,` +
        `"ipam":{"type":"host-local","ranges":\${POD_CIDR_RANGES},"routes":\${ROUTES},"dataDir":"${join(dir, 'ipam')}"}}]}`,
    );
    d = ownDaemon('podcidr', { cniToml: `conf_template = "${template}"` });
    d.onCleanup = () => {
      rmSync(dir, { recursive: true, force: true });
      spawnSync('ip', ['link', 'del', bridge]);
    };
    await d.start();
    cri = criClient(d.sock);
  }, 120_000);
  afterAll(async () => {
    for (const p of pods) await cri.call('StopPodSandbox', { pod_sandbox_id: p }).catch(() => undefined);
    for (const p of pods) await cri.call('RemovePodSandbox', { pod_sandbox_id: p }).catch(() => undefined);
    cri?.close();
    await d?.cleanup();
  });

  it('renders the template with the CIDR and the next pod gets an address from it', async () => {
    const cidr = `10.251.${Number.parseInt(d.subnetPrefix.split('.')[2]!, 10)}.0/24`;
    await cri.call('UpdateRuntimeConfig', { runtime_config: { network_config: { pod_cidr: cidr } } });
    const rendered = JSON.parse(readFileSync(join(d.dir, 'cni', '10-bulkhead-template.conflist'), 'utf8')) as { plugins: { ipam: { ranges: unknown } }[] };
    expect(rendered.plugins[0]!.ipam.ranges).toEqual([[{ subnet: cidr }]]);
    const cfg = { metadata: { name: 'p', namespace: 'podcidr', uid: 'podcidr-1', attempt: 0 }, log_directory: join(d.logDir, 'p'), linux: {} };
    const { pod_sandbox_id: id } = await cri.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: cfg });
    pods.push(id);
    const ip = (await cri.call<{ status: { network: { ip: string } } }>('PodSandboxStatus', { pod_sandbox_id: id })).status.network.ip;
    expect(ip.startsWith(cidr.slice(0, cidr.lastIndexOf('.')))).toBe(true);
  });

  it('refuses a malformed CIDR with InvalidArgument and keeps the rendered config', async () => {
    const file = join(d.dir, 'cni', '10-bulkhead-template.conflist');
    const before = readFileSync(file, 'utf8');
    const err = await cri.call('UpdateRuntimeConfig', { runtime_config: { network_config: { pod_cidr: '10.0.0.0/99' } } }).catch((e: unknown) => e);
    expect(grpcCode(err)).toBe(status.INVALID_ARGUMENT);
    expect(readFileSync(file, 'utf8')).toBe(before);
  });
});
