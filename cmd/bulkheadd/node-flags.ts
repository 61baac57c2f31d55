// The daemon's V8 heap flags, applied in one place for every launcher (systemd unit, install
// script, kind image, e2e and bench helpers, a bare `node main.js`): when they are missing from
// the node command line, the process execve(2)s itself with them (same pid, no supervisor left).
// Measured here: the default 16 MiB young generation (2 × 8 MiB semi-spaces) is ~20 % of the idle
// daemon's RSS; 1 MiB semi-spaces bring an idle daemon from 78 to 70 MiB. The daemon allocates
// little per RPC, so the extra scavenges cost nothing measurable.
import { createRequire } from 'node:module';

/** Flags added unless the command line already sets them (an operator's choice wins). */
export const DAEMON_NODE_FLAGS = ['--max-semi-space-size=1'];

/** Set to 0 to run with node's defaults (no re-exec). */
export const NODE_FLAGS_ENV = 'BULKHEAD_NODE_FLAGS';

/** The node flags missing from execArgv (compared by flag name, before any "="). */
export function missingNodeFlags(execArgv: readonly string[], wanted: readonly string[] = DAEMON_NODE_FLAGS): string[] {
  const name = (f: string) => f.split('=')[0]!.replace(/_/g, '-');
  const have = new Set(execArgv.map(name));
  return wanted.filter((f) => !have.has(name(f)));
}

/**
 * Re-executes this node process with the daemon flags if any is missing. Returns only when no
 * re-exec is needed or it failed (then the daemon simply runs with node's defaults).
 */
export function ensureDaemonNodeFlags(): void {
  if (process.env[NODE_FLAGS_ENV] === '0') return;
  const missing = missingNodeFlags(process.execArgv);
  if (missing.length === 0) return;
  // koffi is a dependency already (mount(2) etc.); node has no execve of its own before v22.15.
  const require = createRequire(import.meta.url);
  const koffi = require('koffi') as typeof import('koffi');
  const libc = koffi.load('libc.so.6');
  const execve = libc.func('int execve(const char *path, const char **argv, const char **envp)');
  const fcntl = libc.func('int fcntl(int fd, int cmd, int arg)');
  // Node marks its stdio descriptors close-on-exec; the next image must keep them (logs go there).
  const F_GETFD = 1;
  const F_SETFD = 2;
  const FD_CLOEXEC = 1;
  for (const fd of [0, 1, 2]) {
    const flags = fcntl(fd, F_GETFD, 0) as number;
    if (flags >= 0 && flags & FD_CLOEXEC) fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
  }
  const argv = [process.execPath, ...process.execArgv, ...missing, ...process.argv.slice(1)];
  const envp = Object.entries(process.env).map(([k, v]) => `${k}=${v ?? ''}`);
  execve(process.execPath, [...argv, null], [...envp, null]);
  // Only reached when execve failed: keep going without the flags rather than not starting.
  process.emitWarning(`bulkheadd: re-exec with ${missing.join(' ')} failed (errno ${koffi.errno()}); running with node defaults`);
}
