import { describe, expect, it } from 'vitest';
import { parseQemuVersion, versionAtLeast, virtiofsdHelpMigrates, MIN_SNAPSHOT_QEMU } from './snapshot-support.js';
import { qemuArgs, type QemuSpec } from './qemu-args.js';

describe('snapshot support detection', () => {
  it('reads the QEMU version Debian prints', () => {
    expect(parseQemuVersion('QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright')).toBe('7.2.22');
    expect(parseQemuVersion('QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)')).toBe('10.0.2');
    expect(parseQemuVersion('something else')).toBe('');
  });
  it('needs QEMU 9.0 or later', () => {
    expect(versionAtLeast('7.2.22', MIN_SNAPSHOT_QEMU)).toBe(false);
    expect(versionAtLeast('8.2.0', MIN_SNAPSHOT_QEMU)).toBe(false);
    expect(versionAtLeast('9.0.0', MIN_SNAPSHOT_QEMU)).toBe(true);
    expect(versionAtLeast('10.0.2', MIN_SNAPSHOT_QEMU)).toBe(true);
  });
  it('tells the Rust virtiofsd (migrates) from the C one', () => {
    expect(virtiofsdHelpMigrates('      --migration-mode <MIGRATION_MODE>\n')).toBe(true);
    expect(virtiofsdHelpMigrates('usage: virtiofsd [options]\n    -o source=PATH\n')).toBe(false);
  });
});

describe('qemu args for a restore', () => {
  const spec: QemuSpec = {
    name: 'n', accel: 'tcg', memoryMib: 128, vcpus: 1, kernel: '/k', initrd: '/i', rootfs: '/r', disks: [], nics: [],
    agentSocket: '/a', qmpSocket: '/q', consoleLog: '/c', pidFile: '/p',
  };
  it('adds the state fd set and -incoming defer only when asked', () => {
    expect(qemuArgs(spec)).not.toContain('-incoming');
    const a = qemuArgs({ ...spec, addFds: [{ fd: 3, set: 1 }], incoming: true });
    expect(a.slice(-4)).toEqual(['-add-fd', 'fd=3,set=1', '-incoming', 'defer']);
  });
});
