import { afterAll, describe, expect, test } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../config/load.js';
import { cgroupMode, checkCni, checkHandler, guestImages, versionNumber, type HostFacts } from './host-checks.js';

const dir = mkdtempSync(join(tmpdir(), 'bulkhead-host-checks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fakeBinary(name: string, versionLine: string): string {
  const p = join(dir, 'bin', name);
  mkdirSync(join(dir, 'bin'), { recursive: true });
  writeFileSync(p, `#!/bin/sh\necho "${versionLine}"\n`);
  chmodSync(p, 0o755);
  return p;
}

const facts = (mode: HostFacts['cgroupMode'], pvm = true): HostFacts => ({
  cgroupMode: mode,
  kernel: '6.1.0',
  probe: { cpuinfo: () => 'flags\t: fpu sse2\n', kvmOpens: () => true, isPvm: () => pvm },
});

describe('host checks', () => {
  test('version lines', () => {
    expect(versionNumber('runc version 1.1.5+ds1')).toBe('1.1.5+ds1');
    expect(versionNumber('crun version 1.8.1')).toBe('1.8.1');
    expect(versionNumber('QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)')).toBe('7.2.22');
    expect(versionNumber(undefined)).toBeUndefined();
  });

  test('cgroup mode of a missing mount is unknown; this host reports something definite', () => {
    expect(cgroupMode(join(dir, 'nope'))).toBe('unknown');
    expect(['v1', 'v2', 'hybrid']).toContain(cgroupMode());
  });

  test('crun is unusable on hybrid cgroups, fine on v2; runc fine on both', () => {
    const crun = fakeBinary('crun', 'crun version 1.8.1');
    const runc = fakeBinary('runc', 'runc version 1.1.5');
    const conmon = fakeBinary('conmon', 'conmon version 2.1.6');
    const config = validateConfig({});
    const crunH = { kind: 'oci' as const, runtime_path: crun, monitor_path: conmon };
    const hybrid = checkHandler('crun', crunH, config, facts('hybrid'));
    expect(hybrid.ok).toBe(false);
    expect(hybrid.problems).toEqual(['crun: unusable on hybrid cgroups']);
    expect(hybrid.runtime).toEqual({ name: crun, path: crun, version: '1.8.1' });
    expect(checkHandler('crun', crunH, config, facts('v2')).ok).toBe(true);
    const r = checkHandler('runc', { kind: 'oci', runtime_path: runc, monitor_path: conmon }, config, facts('hybrid'));
    expect(r).toMatchObject({ ok: true, default: true, summary: `runc 1.1.5 (${runc}), conmon 2.1.6` });
    const missing = checkHandler('x', { kind: 'oci', runtime_path: join(dir, 'absent'), monitor_path: conmon }, config, facts('v2'));
    expect(missing.problems).toEqual([`${join(dir, 'absent')} not found`]);
  });

  test('vm handler: qemu, accelerator with reason, guest image stamps newest first', () => {
    const qemu = fakeBinary('qemu-system-x86_64', 'QEMU emulator version 7.2.22 (Debian)');
    const root = join(dir, 'root');
    const config = validateConfig({ root });
    const h = { kind: 'vm' as const, qemu_path: qemu, accelerator: 'auto' as const, memory_mib: 128, vcpus: 1, pool_size: 1, tcg_tb_size_mib: 64, start_from: 'boot' as const };
    const none = checkHandler('microvm', h, config, facts('hybrid'));
    expect(none.ok).toBe(false);
    expect(none.accelerator).toEqual({ accel: 'tcg', reason: '/dev/kvm is PVM: stock kernels cannot boot' });
    expect(none.summary).toContain('TCG (/dev/kvm is PVM: stock kernels cannot boot)');
    const forced = checkHandler('microvm', { ...h, accelerator: 'kvm' }, config, facts('hybrid'));
    expect(forced.problems[0]).toMatch(/accelerator = kvm but \/dev\/kvm is PVM/);
    expect(none.problems[0]).toMatch(/no guest image in .*guest \(build it: deploy\/guest\/build-guest.sh/);

    for (const [stamp, age] of [['aaaa', 100], ['bbbb', 10]] as const) {
      mkdirSync(join(root, 'guest', stamp), { recursive: true });
      writeFileSync(join(root, 'guest', stamp, 'stamp'), `${stamp}\n`);
      writeFileSync(join(root, 'guest', stamp, 'manifest.json'), JSON.stringify({ stamp, kernel_release: '6.1.0-56-cloud-amd64' }));
      const t = Date.now() / 1000 - age;
      utimesSync(join(root, 'guest', stamp, 'stamp'), t, t);
    }
    mkdirSync(join(root, 'guest', 'cache'), { recursive: true });
    expect(guestImages(root).map((g) => g.stamp)).toEqual(['bbbb', 'aaaa']);
    const withGuest = checkHandler('microvm', h, config, facts('hybrid'));
    expect(withGuest.ok).toBe(true);
    expect(withGuest.summary).toBe('qemu 7.2.22; TCG (/dev/kvm is PVM: stock kernels cannot boot); guest bbbb (kernel 6.1.0-56-cloud-amd64); pool 1');
  });

  test('vm handler: guest_root and a prebuilt guest_image are where the guest image is looked for', () => {
    const qemu = fakeBinary('qemu-system-x86_64', 'QEMU emulator version 7.2.22 (Debian)');
    const config = validateConfig({ root: join(dir, 'root2') });
    const h = { kind: 'vm' as const, qemu_path: qemu, accelerator: 'auto' as const, memory_mib: 128, vcpus: 1, pool_size: 0, tcg_tb_size_mib: 64, start_from: 'boot' as const };
    const groot = join(dir, 'groot');
    mkdirSync(join(groot, 'guest', 'cccc'), { recursive: true });
    writeFileSync(join(groot, 'guest', 'cccc', 'stamp'), 'cccc\n');
    const viaRoot = checkHandler('microvm', { ...h, guest_root: groot }, config, facts('hybrid'));
    expect(viaRoot.ok).toBe(true);
    expect(viaRoot.summary).toContain('guest cccc');

    const prebuilt = join(dir, 'prebuilt');
    const missing = checkHandler('microvm', { ...h, guest_image: prebuilt }, config, facts('hybrid'));
    expect(missing.ok).toBe(false);
    expect(missing.problems).toEqual([`guest_image ${prebuilt} is not a guest image (no stamp: copy deploy/guest/build-guest.sh's output dir there)`]);
    mkdirSync(prebuilt, { recursive: true });
    writeFileSync(join(prebuilt, 'stamp'), 'dddd\n');
    writeFileSync(join(prebuilt, 'manifest.json'), JSON.stringify({ stamp: 'dddd', kernel_release: '6.1.0-57-cloud-amd64' }));
    const ok = checkHandler('microvm', { ...h, guest_image: prebuilt, guest_root: groot }, config, facts('hybrid'));
    expect(ok.ok).toBe(true);
    expect(ok.summary).toContain('guest dddd (kernel 6.1.0-57-cloud-amd64)');
    expect(ok.guest?.images.map((g) => g.dir)).toEqual([prebuilt]);
  });

  test('CNI: first config file in lexical order, plugin binaries looked up in bin_dirs', () => {
    const conf = join(dir, 'net.d');
    const bins = join(dir, 'cni-bin');
    mkdirSync(conf, { recursive: true });
    mkdirSync(bins, { recursive: true });
    const config = validateConfig({ cni: { conf_dir: conf, bin_dirs: [bins] } });
    expect(checkCni(config)).toMatchObject({ ready: false, problems: [`no CNI config file (*.conf, *.conflist) in ${conf}`] });

    writeFileSync(join(conf, '10-test.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'podnet', plugins: [{ type: 'bridge' }, { type: 'portmap' }] }));
    writeFileSync(join(conf, '99-other.conf'), JSON.stringify({ name: 'other', type: 'macvlan' }));
    writeFileSync(join(bins, 'bridge'), '#!/bin/sh\n');
    chmodSync(join(bins, 'bridge'), 0o755);
    const r = checkCni(config);
    expect(r).toMatchObject({ ready: false, file: '10-test.conflist', network: 'podnet' });
    expect(r.problems).toEqual([`plugin portmap not found in ${bins}`]);
    writeFileSync(join(bins, 'portmap'), '#!/bin/sh\n');
    chmodSync(join(bins, 'portmap'), 0o755);
    expect(checkCni(config)).toMatchObject({ ready: true, problems: [] });
  });
});
