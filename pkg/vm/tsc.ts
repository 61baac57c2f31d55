// Host TSC frequency for the guest's tsc_early_khz: under TCG the guest cannot calibrate the TSC (no
// PIT/HPET on microvm) and without it about half the boots hang (docs/microvm.md §2).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export function parseTscKhz(dmesg: string, cpuinfo: string): number | undefined {
  const refined = /Refined TSC clocksource calibration: (\d+)\.(\d+) MHz/.exec(dmesg);
  const detected = /tsc: Detected (\d+)\.(\d+) MHz/.exec(dmesg);
  const m = refined ?? detected;
  if (m) return Number(m[1]) * 1000 + Number((m[2]! + '000').slice(0, 3));
  const mhz = /^cpu MHz\s*:\s*([\d.]+)/m.exec(cpuinfo);
  return mhz ? Math.round(Number(mhz[1]) * 1000) : undefined;
}

let cached: number | undefined;

export function hostTscKhz(): number | undefined {
  if (cached !== undefined) return cached;
  let dmesg = '';
  try {
    dmesg = execFileSync('dmesg', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
  } catch {
    /* dmesg restricted: fall back to cpuinfo */
  }
  cached = parseTscKhz(dmesg, readFileSync('/proc/cpuinfo', 'utf8'));
  return cached;
}
