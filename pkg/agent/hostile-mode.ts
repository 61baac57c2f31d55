// Which hostile scenario, if any, this guest agent plays (a test mode: pkg/agent/hostile.ts). The
// host picks it per runtime handler with the root-owned `kernel_params = "bulkhead.hostile=<name>"`;
// the agent reads it from /proc/cmdline, not from its environment: the kernel hands init only the
// undotted words it doesn't know as env vars (a dotted word is an unknown module's parameter).

export const HOSTILE_SCENARIOS = ['junk-frame', 'window-overrun', 'flood', 'symlinks'] as const;
export type HostileScenario = (typeof HOSTILE_SCENARIOS)[number];

/** The scenario named on a kernel command line; undefined when none or an unknown name. */
export function hostileScenarioOf(cmdline: string): HostileScenario | undefined {
  for (const w of cmdline.trim().split(/\s+/)) {
    if (!w.startsWith('bulkhead.hostile=')) continue;
    const name = w.slice('bulkhead.hostile='.length);
    return (HOSTILE_SCENARIOS as readonly string[]).includes(name) ? (name as HostileScenario) : undefined;
  }
  return undefined;
}
