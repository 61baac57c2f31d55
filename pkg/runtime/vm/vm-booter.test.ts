import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { handlerSchema, type VmHandlerConfig } from '../../config/schema.js';
import { VmBooter } from './vm-booter.js';

const log = pino({ level: 'silent' });
const vmConfig = (extra: Record<string, unknown>): VmHandlerConfig => handlerSchema.parse({ kind: 'vm', accelerator: 'tcg', ...extra }) as VmHandlerConfig;

describe('VmBooter guest image', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  const tmp = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'vmbooter-'));
    dirs.push(d);
    return d;
  };

  it('uses a prebuilt guest_image as is, without running the build under the root', async () => {
    const img = tmp();
    const root = tmp();
    writeFileSync(join(img, 'manifest.json'), JSON.stringify({ stamp: 'abcdef0123456789', kernel_release: '6.1.0-test-cloud-amd64' }));
    const booter = new VmBooter(vmConfig({ guest_image: img }), root, log);
    const g = await booter.guestImage();
    expect(g).toMatchObject({ dir: img, stamp: 'abcdef0123456789', kernel: join(img, 'vmlinux'), initrd: join(img, 'initrd.cpio'), rootfs: join(img, 'rootfs.erofs'), kernelRelease: '6.1.0-test-cloud-amd64' });
    expect(booter.guestStamp).toBe('abcdef0123456789');
    // Nothing was built or cached under the daemon root.
    expect(readdirSync(root)).toEqual([]);
    expect(existsSync(join(root, 'guest'))).toBe(false);
  });

  it('fails (and retries on the next call) when the prebuilt image has no manifest', async () => {
    const img = tmp();
    const booter = new VmBooter(vmConfig({ guest_image: img }), tmp(), log);
    await expect(booter.guestImage()).rejects.toThrow(/manifest\.json/);
    writeFileSync(join(img, 'manifest.json'), JSON.stringify({ stamp: '0123456789abcdef', kernel_release: 'k' }));
    await expect(booter.guestImage()).resolves.toMatchObject({ stamp: '0123456789abcdef' });
  });

  it('rejects a relative guest_image path in the config', () => {
    expect(() => handlerSchema.parse({ kind: 'vm', guest_image: 'guest' })).toThrow();
  });
});
