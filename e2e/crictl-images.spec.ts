// crictl smoke checks of the image service against the running e2e daemon (e2e/run-all.sh starts
// it and exports BULKHEAD_SOCK and CRICTL). Images come from the loopback registry through the
// daemon's docker.io mirror (e2e/certs.d).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const SOCK = process.env.BULKHEAD_SOCK;
const CRICTL = process.env.CRICTL;
const IMAGE = 'docker.io/library/busybox:latest';

async function crictl(...args: string[]): Promise<string> {
  const endpoint = `unix://${SOCK}`;
  const { stdout } = await run(CRICTL!, ['--runtime-endpoint', endpoint, '--image-endpoint', endpoint, '--timeout', '60s', ...args], {
    maxBuffer: 16 << 20,
  });
  return stdout;
}

interface CrictlImage {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  size: string;
  pinned?: boolean;
}

describe.skipIf(!SOCK || !CRICTL)('crictl against bulkheadd: runtime info and images', () => {
  it('version names the runtime and CRI v1', async () => {
    const out = await crictl('version');
    expect(out).toMatch(/RuntimeName:\s+bulkhead/);
    expect(out).toMatch(/RuntimeApiVersion:\s+v1/);
  });

  it('info reports RuntimeReady', async () => {
    const info = JSON.parse(await crictl('info', '-o', 'json')) as { status: { conditions: { type: string; status: boolean }[] } };
    const ready = info.status.conditions.find((c) => c.type === 'RuntimeReady');
    expect(ready?.status).toBe(true);
  });

  it('pull, images, inspecti, imagefsinfo and rmi of busybox', async () => {
    await crictl('rmi', IMAGE).catch(() => undefined); // absent is fine: start from a clean slate

    const pulled = await crictl('pull', IMAGE);
    const ref = /Image is up to date for (\S+)/.exec(pulled)?.[1];
    expect(ref, `crictl pull output: ${pulled}`).toBeDefined();

    const list = JSON.parse(await crictl('images', '-o', 'json')) as { images: CrictlImage[] };
    const img = list.images.find((i) => i.repoTags.includes(IMAGE));
    expect(img, `${IMAGE} in crictl images`).toBeDefined();
    expect(img!.id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(ref).toBe(img!.id); // CRI v1.36: PullImageResponse.image_ref == Image.id
    expect(Number(img!.size)).toBeGreaterThan(0);

    const inspected = JSON.parse(await crictl('inspecti', '-o', 'json', IMAGE)) as { status: CrictlImage };
    expect(inspected.status.id).toBe(img!.id);
    expect(inspected.status.repoTags).toContain(IMAGE);
    expect(inspected.status.pinned, 'registry.pinned_images of e2e/bulkhead-e2e.toml').toBe(true);
    expect(inspected.status.repoDigests.some((d) => d.startsWith('docker.io/library/busybox@sha256:'))).toBe(true);

    const fs = JSON.parse(await crictl('imagefsinfo', '-o', 'json')) as {
      status: { imageFilesystems: { fsId: { mountpoint: string }; usedBytes: { value: string } }[] };
    };
    expect(fs.status.imageFilesystems.length).toBeGreaterThan(0);
    expect(fs.status.imageFilesystems[0]!.fsId.mountpoint).toMatch(/^\//);
    // Usage may be computed in the background (containerd does): only its presence is checked.
    expect(Number(fs.status.imageFilesystems[0]!.usedBytes.value)).toBeGreaterThanOrEqual(0);

    await crictl('rmi', IMAGE);
    const after = JSON.parse(await crictl('images', '-o', 'json')) as { images: CrictlImage[] };
    expect(after.images.some((i) => i.repoTags.includes(IMAGE))).toBe(false);
    await expect(crictl('inspecti', IMAGE)).rejects.toThrow();
  });
});
