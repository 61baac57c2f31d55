// RuntimeConfig: kubelet (KubeletCgroupDriverFromCRI) takes its cgroup driver from this answer.
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../config/load.js';
import { PodCidrSettings } from '../network/pod-cidr.js';
import { runtimeInfoHandlers } from './runtime-info.js';

async function driverReported(cgroupDriver: string): Promise<unknown> {
  const config = validateConfig({ root: mkdtempSync(join(tmpdir(), 'bh-rc-')), cgroup_driver: cgroupDriver });
  const h = runtimeInfoHandlers({ config, podCidr: new PodCidrSettings({ root: config.root, confDir: join(config.root, 'cni') }), sources: [] });
  const r = (await (h.RuntimeConfig as (req: object) => Promise<{ linux: { cgroup_driver: string } }>)({})) ;
  return r.linux.cgroup_driver;
}

describe('RuntimeConfig', () => {
  it('reports the configured cgroup driver', async () => {
    expect(await driverReported('cgroupfs')).toBe('CGROUPFS');
    expect(await driverReported('systemd')).toBe('SYSTEMD');
  });

  it('the config refuses other drivers', () => {
    expect(() => validateConfig({ cgroup_driver: 'systemd-cgroup' })).toThrow(/cgroup_driver/);
  });
});
