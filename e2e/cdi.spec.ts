// CDI devices (ContainerConfig.CDI_devices, what device plugins and DRA drivers hand kubelet) are
// resolved from the node's CDI spec dirs and applied to a runc container: the device node (here a
// harmless alias of /dev/null), env, a mount and a createContainer hook. An unknown device is
// NotFound and leaves nothing behind.
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { criClient, grpcCode, runTestPod, type CriClient, type TestPod } from './lib/cri-grpc.js';
import { ownDaemon, type OwnDaemon } from './lib/own-daemon.js';

const IMAGE = 'docker.io/library/busybox:latest';

describe('CDI devices on a runc pod', () => {
  let d: OwnDaemon;
  let cri: CriClient;
  let dir = '';
  let pod: TestPod | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bulkhead-cdi-'));
    mkdirSync(join(dir, 'specs'));
    mkdirSync(join(dir, 'lib'));
    writeFileSync(join(dir, 'lib', 'marker'), 'from-the-host\n');
    writeFileSync(
      join(dir, 'specs', 'example.yaml'),
      [
        'cdiVersion: "0.6.0"',
        'kind: bulkhead.test/null',
        'containerEdits:',
        '  env: ["CDI_DRIVER=test"]',
        'devices:',
        '  - name: dev0',
        '    containerEdits:',
        '      env: ["CDI_VISIBLE=dev0"]',
        '      deviceNodes:',
        '        - path: /dev/cdi-null',
        '          hostPath: /dev/null',
        '          permissions: rw',
        '      mounts:',
        `        - hostPath: ${join(dir, 'lib')}`,
        '          containerPath: /opt/cdi-lib',
        '          options: [ro, nosuid, nodev]',
        '      hooks:',
        '        - hookName: createContainer',
        '          path: /bin/sh',
        `          args: [sh, -c, "touch ${join(dir, 'hook-ran')}"]`,
        '',
      ].join('\n'),
    );
    d = ownDaemon('cdi', { extraToml: `[cdi]\nspec_dirs = ["${join(dir, 'specs')}"]\n` });
    d.onCleanup = () => rmSync(dir, { recursive: true, force: true });
    await d.start();
    await d.crictl('pull', IMAGE);
    cri = criClient(d.sock);
    pod = await runTestPod(cri, 'cdi', d.logDir);
  }, 120_000);
  afterAll(async () => {
    await pod?.remove();
    cri?.close();
    await d?.cleanup();
  });

  const create = (name: string, devices: string[]) => pod!.create(name, IMAGE, { CDI_devices: devices.map((n) => ({ name: n })) });

  it('applies the device node, env, mount and hook', async () => {
    const id = await create('c', ['bulkhead.test/null=dev0']);
    await cri.call('StartContainer', { container_id: id });
    const sh = (script: string) => pod!.sh(id, script);
    expect(await sh('echo $CDI_DRIVER $CDI_VISIBLE')).toBe('test dev0\n');
    expect(await sh('[ -c /dev/cdi-null ] && echo hi > /dev/cdi-null && echo writable')).toBe('writable\n');
    expect(await sh('cat /opt/cdi-lib/marker; touch /opt/cdi-lib/x 2>/dev/null || echo read-only')).toBe('from-the-host\nread-only\n');
    const { existsSync } = await import('node:fs');
    expect(existsSync(join(dir, 'hook-ran'))).toBe(true);
  });

  it('an unknown device is NotFound and leaves no container', async () => {
    const err = await create('u', ['bulkhead.test/null=dev9']).catch((e: unknown) => e);
    expect(grpcCode(err)).toBe(status.NOT_FOUND);
    expect(String((err as Error).message)).toContain('"bulkhead.test/null=dev9" is not defined');
    const { containers } = await cri.call<{ containers: { metadata: { name: string } }[] }>('ListContainers', {});
    expect(containers.map((c) => c.metadata.name)).toEqual(['c']);
  });
});
