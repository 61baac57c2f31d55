// Status over the pods subsystem's StatusSource with fake runtimes: readiness of the default
// handler and each handler's features (what kubelet reads from crictl info / RuntimeHandlers).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { newTestPods, type TestPods } from '../../test/fakes/index.js';
import { PodCidrSettings } from '../network/pod-cidr.js';
import { runtimeInfoHandlers, type StatusSource } from './runtime-info.js';

let pods: TestPods;
beforeEach(async () => (pods = await newTestPods()));
afterEach(() => pods.cleanup());

const network: StatusSource = { conditions: async () => [{ type: 'NetworkReady', status: true, reason: '', message: '' }] };
const runtimeOk: StatusSource = { conditions: async () => [{ type: 'RuntimeReady', status: true, reason: '', message: '' }] };

function status(verbose = false) {
  const h = runtimeInfoHandlers({ config: pods.config, podCidr: new PodCidrSettings({ root: pods.root, confDir: join(pods.root, 'cni') }), sources: [runtimeOk, network, pods.status] });
  return h.Status({ verbose }, pods.ctx);
}

describe('Status', () => {
  it('ready when the default handler is usable; NotChecked when no source reports a condition', async () => {
    expect((await status()).status!.conditions).toEqual([
      { type: 'RuntimeReady', status: true, reason: '', message: '' },
      { type: 'NetworkReady', status: true, reason: '', message: '' },
    ]);
    const bare = runtimeInfoHandlers({ config: pods.config, podCidr: new PodCidrSettings({ root: pods.root, confDir: join(pods.root, 'cni') }), sources: [] });
    expect((await bare.Status({ verbose: false }, pods.ctx)).status!.conditions!.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['RuntimeReady', false, 'NotChecked'],
      ['NetworkReady', false, 'NotChecked'],
    ]);
  });

  it('an unusable default handler makes RuntimeReady false', async () => {
    pods.runc.handlerStatus = { recursiveReadOnlyMounts: true, unavailable: 'runc is missing' };
    const ready = (await status()).status!.conditions!.find((c) => c.type === 'RuntimeReady');
    expect(ready).toMatchObject({ status: false, reason: 'RuntimeHandlerUnusable' });
  });

  it('lists each handler (and the default as "") with its features', async () => {
    pods.runc.userns = { idmapHelper: '/usr/libexec/bulkhead-idmap-mount' };
    pods.microvm.handlerStatus = { recursiveReadOnlyMounts: false };
    const byName = Object.fromEntries((await status()).runtime_handlers!.map((h) => [h.name, h.features]));
    expect(byName['']).toEqual({ recursive_read_only_mounts: true, user_namespaces: true });
    expect(byName.runc).toEqual(byName['']);
    expect(byName.microvm).toEqual({ recursive_read_only_mounts: false, user_namespaces: false });
    expect(byName.crun).toEqual({ recursive_read_only_mounts: false, user_namespaces: false });
  });

  it('verbose info says which handlers are ready', async () => {
    pods.microvm.handlerStatus = { recursiveReadOnlyMounts: false, unavailable: 'no /dev/kvm', details: { accelerator: 'tcg' } };
    const { info } = await status(true);
    expect(JSON.parse(info!.handlerStatus!)).toEqual({ runc: 'ready', microvm: 'no /dev/kvm' });
    expect(JSON.parse(info!.vmHandlers!)).toEqual({ microvm: { accelerator: 'tcg' } });
  });
});
