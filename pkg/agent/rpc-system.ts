// RPCs about the guest as a whole: Ping (kernel, image stamp, memory), SetupSandbox (network, DNS,
// share, sysctls: sandbox-setup.ts) and Shutdown.
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { spawn } from 'node:child_process';
import { setupSandbox } from './sandbox-setup.js';
import type { Handlers } from './rpc.js';

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

function memInfo(): { total: string; available: string } {
  const m = readText('/proc/meminfo');
  const kb = (k: string): string => String(BigInt(/^(\d+)/.exec(m.split(`${k}:`)[1]?.trim() ?? '0')?.[1] ?? '0') * 1024n);
  return { total: kb('MemTotal'), available: kb('MemAvailable') };
}

/** The reply goes out before the power-off: 50 ms is ample for one frame on the virtio-serial port. */
const POWEROFF_DELAY_MS = 50;

export function systemRpcs(): Handlers<'ping' | 'setup_sandbox' | 'shutdown'> {
  return {
    ping: () => {
      const mem = memInfo();
      return {
        kernel_release: release(),
        guest_stamp: readText('/etc/bulkhead-guest-stamp'),
        uptime_seconds: Number(readText('/proc/uptime').split(' ')[0] ?? 0),
        mem_total_bytes: mem.total,
        mem_available_bytes: mem.available,
      };
    },
    setup_sandbox: async (r) => {
      await setupSandbox(r);
      return {};
    },
    shutdown: () => {
      setTimeout(() => spawn('/bin/sh', ['-c', 'sync; poweroff -f'], { stdio: 'ignore' }), POWEROFF_DELAY_MS);
      return {};
    },
  };
}
