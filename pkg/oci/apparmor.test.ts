import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { apparmorProfileFor, NO_APPARMOR, vmAppArmor, type AppArmorHost } from './apparmor.js';
import { SysAppArmor } from './apparmor-host.js';

const fakeHost = (loaded: string[]): AppArmorHost & { loads: number } => {
  const h = {
    loads: 0,
    enabled: () => true,
    isLoaded: (p: string) => loaded.includes(p),
    ensureDefault: () => {
      h.loads++;
      return 'bulkhead-default';
    },
  };
  return h;
};

describe('apparmorProfileFor', () => {
  it('on an AppArmor host: default for unset and RuntimeDefault, none for Unconfined and unset privileged', () => {
    const h = fakeHost([]);
    expect(apparmorProfileFor(null, h)).toBe('bulkhead-default');
    expect(apparmorProfileFor({ apparmor: { profile_type: 'RuntimeDefault', localhost_ref: '' } }, h)).toBe('bulkhead-default');
    expect(apparmorProfileFor({ apparmor_profile: 'runtime/default' }, h)).toBe('bulkhead-default');
    expect(apparmorProfileFor({ apparmor: { profile_type: 'Unconfined', localhost_ref: '' } }, h)).toBeUndefined();
    expect(apparmorProfileFor({ privileged: true }, h)).toBeUndefined();
  });

  it('Localhost: applied when loaded, refused (never unconfined) when not', () => {
    const h = fakeHost(['my-profile']);
    expect(apparmorProfileFor({ apparmor: { profile_type: 'Localhost', localhost_ref: 'my-profile' } }, h)).toBe('my-profile');
    expect(apparmorProfileFor({ apparmor_profile: 'localhost/my-profile' }, h)).toBe('my-profile');
    expect(() => apparmorProfileFor({ apparmor: { profile_type: 'Localhost', localhost_ref: 'absent' } }, h)).toThrow(expect.objectContaining({ kind: 'failed-precondition' }));
  });

  it('malformed requests are refused on every host; without AppArmor the rest is accepted and not applied', () => {
    expect(() => apparmorProfileFor({ apparmor_profile: 'bogus' }, NO_APPARMOR)).toThrow(expect.objectContaining({ kind: 'invalid-argument' }));
    expect(() => apparmorProfileFor({ apparmor: { profile_type: 'Localhost', localhost_ref: '' } }, NO_APPARMOR)).toThrow(/without localhost_ref/);
    expect(apparmorProfileFor({ apparmor: { profile_type: 'Localhost', localhost_ref: 'x' } }, NO_APPARMOR)).toBeUndefined();
  });

  it('micro-VM pods: no host profile for the default, Localhost refused', () => {
    const vm = vmAppArmor(fakeHost(['p']));
    expect(apparmorProfileFor(null, vm)).toBe('');
    expect(() => apparmorProfileFor({ apparmor: { profile_type: 'Localhost', localhost_ref: 'p' } }, vm)).toThrow(/micro-VM/);
  });
});

describe('SysAppArmor', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('reads the loaded profiles from securityfs and reports a kernel without AppArmor', () => {
    const sys = mkdtempSync(join(tmpdir(), 'aa-'));
    dirs.push(sys);
    mkdirSync(join(sys, 'kernel/security/apparmor'), { recursive: true });
    writeFileSync(join(sys, 'kernel/security/apparmor/profiles'), 'my profile (enforce)\nother (complain)\n');
    const aa = new SysAppArmor(sys);
    expect(aa.isLoaded('my profile')).toBe(true);
    expect(aa.isLoaded('my')).toBe(false);
    expect(aa.enabled()).toBe(false);
    expect(aa.whyOff()).toMatch(/no AppArmor/);
  });
});

describe('checkSelinux', () => {
  it('accepts anything where SELinux is off, refuses labels and relabeling where it is on', async () => {
    const { checkSelinux } = await import('./selinux.js');
    const label = { user: '', role: '', type: 'container_t', level: 's0:c1,c2' };
    expect(() => checkSelinux(false, 'c', { options: label, mounts: [{ selinux_relabel: true }] })).not.toThrow();
    expect(() => checkSelinux(true, 'c', { options: { user: '', role: '', type: '', level: '' }, mounts: [] })).not.toThrow();
    expect(() => checkSelinux(true, 'c', { podOptions: label })).toThrow(expect.objectContaining({ kind: 'failed-precondition' }));
    expect(() => checkSelinux(true, 'c', { mounts: [{ selinux_relabel: true, container_path: '/data' }] })).toThrow(/relabeling of mount \/data/);
  });
});
