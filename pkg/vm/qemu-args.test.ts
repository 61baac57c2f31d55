import { describe, expect, it } from 'vitest';
import { kernelCmdline, kernelParamWords, qemuArgs, type QemuSpec } from './qemu-args.js';
import { dropOptionFromHelp, pickVmRunAs, VM_UID_BASE } from './qemu-privileges.js';

const base: QemuSpec = {
  name: 'bulkhead-abc',
  accel: 'tcg',
  memoryMib: 128,
  vcpus: 1,
  kernel: '/g/vmlinux',
  initrd: '/g/initrd.cpio',
  rootfs: '/g/rootfs.erofs',
  disks: [],
  nics: [],
  agentSocket: '/s/agent.sock',
  qmpSocket: '/s/qmp.sock',
  consoleLog: '/s/console.log',
  pidFile: '/s/qemu.pid',
  tscKhz: 2596098,
};

function after(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1]!] : []));
}

describe('qemuArgs', () => {
  it('builds the measured microvm command line (TCG, sandbox, QMP, agent port, root disk by serial)', () => {
    const a = qemuArgs(base);
    expect(after(a, '-accel')).toEqual(['tcg']);
    expect(after(qemuArgs({ ...base, tcgTbSizeMib: 64 }), '-accel')).toEqual(['tcg,tb-size=64']);
    expect(after(a, '-cpu')).toEqual(['max']);
    expect(after(a, '-M')).toEqual(['microvm,x-option-roms=off']);
    expect(after(a, '-bios')).toEqual(['qboot.rom']);
    expect(after(a, '-global')).toEqual(['virtio-mmio.force-legacy=false']);
    expect(after(a, '-sandbox')[0]).toMatch(/^on,/);
    expect(after(a, '-qmp')).toEqual(['unix:/s/qmp.sock,server=on,wait=off']);
    expect(after(a, '-chardev')).toEqual(['file,id=console,path=/s/console.log,append=on', 'socket,id=agent,path=/s/agent.sock,server=on,wait=off']);
    expect(after(a, '-serial')).toEqual(['chardev:console']);
    expect(after(a, '-device')).toContain('virtio-blk-device,drive=root,serial=bulkhead-root');
    expect(after(a, '-device')).toContain('virtserialport,chardev=agent,name=agent');
    expect(a).toContain('-no-reboot');
    expect(after(a, '-append')[0]).toContain('tsc_early_khz=2596098');
  });

  it('adds disks, tap NICs (no vhost) and virtio-fs with a shared memfd backend', () => {
    const a = qemuArgs({
      ...base,
      accel: 'kvm',
      disks: [{ serial: 'layer0', path: '/l/a,b.erofs', readonly: true }],
      nics: [{ tap: 'tap0_vm', mac: '52:54:00:12:34:56' }],
      sharedFs: { socket: '/s/vfs.sock', tag: 'bulkhead' },
    });
    expect(after(a, '-accel')).toEqual(['kvm']);
    expect(after(qemuArgs({ ...base, accel: 'kvm', tcgTbSizeMib: 64 }), '-accel')).toEqual(['kvm']);
    expect(after(a, '-drive')).toContain('id=d0,file=/l/a,,b.erofs,format=raw,if=none,readonly=on');
    expect(after(a, '-netdev')).toEqual(['tap,id=n0,ifname=tap0_vm,script=no,downscript=no,vhost=off']);
    expect(after(a, '-device')).toContain('virtio-net-device,netdev=n0,mac=52:54:00:12:34:56');
    expect(after(a, '-M')).toEqual(['microvm,x-option-roms=off,memory-backend=mem']);
    expect(after(a, '-object')).toEqual(['memory-backend-memfd,id=mem,size=128M,share=on']);
    expect(after(a, '-device')).toContain('vhost-user-fs-device,chardev=vfs,tag=bulkhead');
  });

  it('drops QEMU to an unprivileged uid:gid after set-up (-runas), set*id allowed in seccomp for that switch only', () => {
    expect(after(qemuArgs(base), '-runas')).toEqual([]);
    expect(after(qemuArgs(base), '-sandbox')[0]).toContain('elevateprivileges=deny');
    const a = qemuArgs({ ...base, runAs: { uid: 2000000123, gid: 2000000123, option: '-runas' } });
    expect(after(a, '-runas')).toEqual(['2000000123:2000000123']);
    expect(after(a, '-sandbox')[0]).toContain('elevateprivileges=allow');
    expect(after(qemuArgs({ ...base, runAs: { uid: 7, gid: 8, option: '-run-with' } }), '-run-with')).toEqual(['user=7:8']);
    for (const bad of [0, -1, 1.5, 0xffffffff]) expect(() => qemuArgs({ ...base, runAs: { uid: bad, gid: 1, option: '-runas' } })).toThrow(/bad QEMU uid/);
  });

  it('finds the user-switch option in qemu -h (7.2: -runas; 9.1+: -run-with user=)', () => {
    expect(dropOptionFromHelp('-runas user     change to user id user just before starting the VM\n')).toBe('-runas');
    expect(dropOptionFromHelp('-run-with [async-teardown=on|off][,chroot=dir][,user=username|uid:gid]\n-runas user\n')).toBe('-run-with');
    expect(dropOptionFromHelp('-run-with [async-teardown=on|off][,chroot=dir]\n')).toBeUndefined();
    const r = pickVmRunAs('-runas');
    expect(r.uid).toBe(r.gid);
    expect(r.uid).toBeGreaterThanOrEqual(VM_UID_BASE);
    expect(r.uid).toBeLessThan(VM_UID_BASE + 2 ** 24);
  });

  it('rejects bad serials and MACs', () => {
    expect(() => qemuArgs({ ...base, disks: [{ serial: 'bulkhead-root', path: '/x', readonly: true }] })).toThrow(/serial/);
    expect(() => qemuArgs({ ...base, disks: [{ serial: 'a'.repeat(21), path: '/x', readonly: true }] })).toThrow(/serial/);
    expect(() => qemuArgs({ ...base, nics: [{ tap: 't', mac: 'zz' }] })).toThrow(/MAC/);
  });

  it('omits tsc_early_khz when unknown (KVM)', () => {
    expect(kernelCmdline({})).not.toContain('tsc_early_khz');
    expect(kernelCmdline({ extraCmdline: ['x=1'] })).toMatch(/ x=1$/);
  });

  it('takes kernel_params words, refusing ones that override its own keys or the boot path', () => {
    expect(kernelParamWords(undefined)).toEqual([]);
    expect(kernelParamWords('  bulkhead.hostile=flood  loglevel=7 ')).toEqual(['bulkhead.hostile=flood', 'loglevel=7']);
    expect(kernelCmdline({ extraCmdline: kernelParamWords('bulkhead.hostile=junk-frame') })).toMatch(/ pci=off bulkhead\.hostile=junk-frame$/);
    for (const w of ['panic=0', 'console=tty0', 'tsc_early_khz=1', 'mitigations=auto', '8250.nr-uarts=4', 'initcall-blacklist=x']) {
      expect(() => kernelParamWords(w), w).toThrow(/overrides Bulkhead's own/);
    }
    for (const w of ['init=/bin/sh', 'rdinit=/x', 'root=/dev/vda']) expect(() => kernelParamWords(w), w).toThrow(/boot path/);
    expect(() => kernelParamWords('x=1 -- sh')).toThrow(/end the kernel's options/);
    for (const w of ['a="b c"', 'x=$(id)', 'k=v;reboot']) expect(() => kernelParamWords(w), w).toThrow(/only key or key=value/);
  });
});
