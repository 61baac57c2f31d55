import { describe, expect, it } from 'vitest';
import { kernelCmdline, qemuArgs, type QemuSpec } from './qemu-args.js';

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

  it('rejects bad serials and MACs', () => {
    expect(() => qemuArgs({ ...base, disks: [{ serial: 'bulkhead-root', path: '/x', readonly: true }] })).toThrow(/serial/);
    expect(() => qemuArgs({ ...base, disks: [{ serial: 'a'.repeat(21), path: '/x', readonly: true }] })).toThrow(/serial/);
    expect(() => qemuArgs({ ...base, nics: [{ tap: 't', mac: 'zz' }] })).toThrow(/MAC/);
  });

  it('omits tsc_early_khz when unknown (KVM)', () => {
    expect(kernelCmdline({})).not.toContain('tsc_early_khz');
    expect(kernelCmdline({ extraCmdline: ['x=1'] })).toMatch(/ x=1$/);
  });
});
