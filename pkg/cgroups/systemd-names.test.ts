// Slice expansion and cgroupsPath forms against kubelet's and runc's naming.
import { describe, expect, it } from 'vitest';
import { cgroupFsPath, containerCgroupsPath, expandSlice, isSliceName, ownedPodSlice, parentSlice, parseSystemdCgroupsPath, unitOf } from './systemd-names.js';

describe('expandSlice', () => {
  it('nests each dash prefix as kubelet and systemd do', () => {
    expect(expandSlice('kubepods.slice')).toBe('/kubepods.slice');
    expect(expandSlice('kubepods-burstable.slice')).toBe('/kubepods.slice/kubepods-burstable.slice');
    expect(expandSlice('kubepods-burstable-pod123.slice')).toBe('/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod123.slice');
    // Guaranteed pods sit directly under kubepods.slice.
    expect(expandSlice('kubepods-pod0a1b2c3d_4e5f_6789_abcd_ef0123456789.slice')).toBe('/kubepods.slice/kubepods-pod0a1b2c3d_4e5f_6789_abcd_ef0123456789.slice');
  });

  it('kubelet escapes dashes of pod UIDs as underscores, which do not nest', () => {
    expect(expandSlice('kubepods-besteffort-pod1b2c_3d4e.slice')).toBe('/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1b2c_3d4e.slice');
  });

  it('"-.slice" is the root slice', () => {
    expect(expandSlice('-.slice')).toBe('/');
    expect(parentSlice('kubepods.slice')).toBe('-.slice');
    expect(parentSlice('kubepods-burstable-pod1.slice')).toBe('kubepods-burstable.slice');
  });

  it.each(['a--b.slice', '-a.slice', 'a-.slice', '.slice', 'kubepods.slice/x.slice', '/kubepods.slice', 'kubepods', 'kubepods.scope', '../x.slice'])('refuses %s', (s) => {
    expect(() => expandSlice(s)).toThrow(/invalid systemd slice name/);
  });
});

describe('runc cgroupsPath forms', () => {
  it('parses slice:prefix:name and names the scope', () => {
    const p = parseSystemdCgroupsPath('kubepods-pod1.slice:bulkhead:abc');
    expect(p).toEqual({ slice: 'kubepods-pod1.slice', prefix: 'bulkhead', name: 'abc' });
    expect(unitOf(p!)).toBe('bulkhead-abc.scope');
    expect(unitOf({ slice: 'a.slice', prefix: 'x', name: 'b.slice' })).toBe('b.slice');
    expect(parseSystemdCgroupsPath('/kubepods/pod1/abc')).toBeUndefined();
    expect(parseSystemdCgroupsPath('a:b')).toBeUndefined();
  });

  it('cgroupFsPath maps every recorded form to its directory', () => {
    expect(cgroupFsPath('kubepods-burstable-pod1.slice:bulkhead:c1')).toBe('/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/bulkhead-c1.scope');
    expect(cgroupFsPath('kubepods-burstable-pod1.slice')).toBe('/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice');
    // runc: an empty slice means system.slice; "-" the root slice
    expect(cgroupFsPath(':bulkhead:c1')).toBe('/system.slice/bulkhead-c1.scope');
    expect(cgroupFsPath('-.slice:bulkhead:c1')).toBe('/bulkhead-c1.scope');
    // cgroupfs driver paths are left alone
    expect(cgroupFsPath('/kubepods/besteffort/pod1/c1')).toBe('/kubepods/besteffort/pod1/c1');
  });

  it('containers of a pod slice get bulkhead-<id>.scope', () => {
    expect(containerCgroupsPath('kubepods-pod1.slice', 'c0ffee')).toBe('kubepods-pod1.slice:bulkhead:c0ffee');
    expect(() => containerCgroupsPath('/kubepods/pod1', 'c0ffee')).toThrow(/slice name/);
    expect(() => containerCgroupsPath('kubepods-pod1.slice', 'a:b')).toThrow(/cannot name/);
  });

  it('owned pods get a slice under bulkhead.slice', () => {
    const s = ownedPodSlice('0123456789abcdef0123456789abcdef');
    expect(s).toBe('bulkhead-pod0123456789abcdef.slice');
    expect(isSliceName(s)).toBe(true);
    expect(expandSlice(s)).toBe('/bulkhead.slice/bulkhead-pod0123456789abcdef.slice');
  });
});
