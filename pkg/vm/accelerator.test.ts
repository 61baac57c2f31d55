import { describe, expect, it } from 'vitest';
import { chooseAccelerator, detectAccelerator, type AccelProbe } from './accelerator.js';
import { parseTscKhz } from './tsc.js';

const probe = (flags: string, opens: boolean, pvm: boolean): AccelProbe => ({
  cpuinfo: () => `processor\t: 0\nflags\t\t: fpu sse2 ${flags}\n`,
  kvmOpens: () => opens,
  isPvm: () => pvm,
});

describe('detectAccelerator', () => {
  it('uses KVM only with vmx/svm, a working /dev/kvm and no PVM', () => {
    expect(detectAccelerator(probe('vmx', true, false)).accel).toBe('kvm');
    expect(detectAccelerator(probe('svm', true, false)).accel).toBe('kvm');
    expect(detectAccelerator(probe('', true, false))).toEqual({ accel: 'tcg', reason: expect.stringContaining('vmx/svm') });
    expect(detectAccelerator(probe('vmx', false, false)).reason).toContain('/dev/kvm');
    expect(detectAccelerator(probe('vmx', true, true))).toEqual({ accel: 'tcg', reason: '/dev/kvm is PVM: stock kernels cannot boot' });
  });
  it('honours the config knob', () => {
    expect(chooseAccelerator('tcg', undefined, probe('vmx', true, false)).accel).toBe('tcg');
    expect(() => chooseAccelerator('kvm', undefined, probe('', true, true))).toThrow(/PVM/);
    expect(chooseAccelerator('kvm', '/k/pvm-vmlinux', probe('', true, true)).accel).toBe('kvm');
    expect(() => chooseAccelerator('kvm', undefined, probe('', true, false))).toThrow(/vmx/);
  });
});

describe('parseTscKhz', () => {
  it('prefers the refined calibration, then detected, then cpuinfo', () => {
    expect(parseTscKhz('[0.0] tsc: Detected 2596.098 MHz processor', '')).toBe(2596098);
    expect(parseTscKhz('tsc: Detected 2596.098 MHz processor\ntsc: Refined TSC clocksource calibration: 2445.424 MHz', '')).toBe(2445424);
    expect(parseTscKhz('', 'cpu MHz\t\t: 2596.1\n')).toBe(2596100);
    expect(parseTscKhz('', '')).toBeUndefined();
  });
});
