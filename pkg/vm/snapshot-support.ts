// Whether this QEMU + virtiofsd can save a pod VM once and start pods by restoring it (snapshot
// start), found at start-up from the binaries themselves. Debian 12's QEMU 7.2 cannot: its
// vhost-user-fs device blocks migration and it has no `file:` migration URI (its `exec:` is killed
// by our own -sandbox spawn=deny). QEMU >= 9.0 has both, file: from an fd set (what we hand it, since
// QEMU drops to a per-VM uid that could not open the state file) and mapped-ram. The C virtiofsd QEMU
// <= 7.2 shipped cannot take part in a migration; the Rust one (>= 1.10) can (--migration-mode).
import { execFileSync } from 'node:child_process';

/** The oldest QEMU whose file: migration takes an fd set and whose vhost-user-fs has migration=. */
export const MIN_SNAPSHOT_QEMU: readonly [number, number] = [9, 0];

export type SnapshotSupport = { ok: true; qemuVersion: string } | { ok: false; qemuVersion: string; reason: string };

const cache = new Map<string, SnapshotSupport>();

/** "QEMU emulator version 10.0.2 (Debian ...)" -> "10.0.2"; '' when it does not say. */
export function parseQemuVersion(out: string): string {
  return /QEMU emulator version (\d+\.\d+(?:\.\d+)?)/.exec(out)?.[1] ?? '';
}

export function versionAtLeast(v: string, min: readonly [number, number]): boolean {
  const [maj = 0, minor = 0] = v.split('.').map(Number);
  return maj > min[0] || (maj === min[0] && minor >= min[1]);
}

/** Whether a virtiofsd --help text offers migration (the Rust virtiofsd's --migration-mode). */
export function virtiofsdHelpMigrates(help: string): boolean {
  return /--migration-mode\b/.test(help);
}

function output(cmd: string, args: string[]): string {
  // 10 s: both print their help/version in ms; a binary that hangs is as good as missing.
  return execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Probes qemuPath and virtiofsdPath once per pair (the answer is cached for the daemon's life). */
export function detectSnapshotSupport(qemuPath: string, virtiofsdPath: string): SnapshotSupport {
  const key = `${qemuPath}\0${virtiofsdPath}`;
  const have = cache.get(key);
  if (have) return have;
  let got: SnapshotSupport;
  let qemuVersion = '';
  try {
    qemuVersion = parseQemuVersion(output(qemuPath, ['--version']));
    if (!qemuVersion) got = { ok: false, qemuVersion, reason: `${qemuPath} --version names no QEMU version` };
    else if (!versionAtLeast(qemuVersion, MIN_SNAPSHOT_QEMU)) {
      got = { ok: false, qemuVersion, reason: `QEMU ${qemuVersion} < ${MIN_SNAPSHOT_QEMU.join('.')}: no vhost-user-fs migration / file: migration from an fd set` };
    } else {
      let help = '';
      try {
        help = output(virtiofsdPath, ['--help']);
      } catch (e) {
        // The C virtiofsd exits non-zero on --help; its text is still what it offers.
        help = String((e as { stdout?: unknown }).stdout ?? '') + String((e as { stderr?: unknown }).stderr ?? '');
      }
      got = virtiofsdHelpMigrates(help) ? { ok: true, qemuVersion } : { ok: false, qemuVersion, reason: `${virtiofsdPath} cannot migrate (no --migration-mode: not the Rust virtiofsd >= 1.10)` };
    }
  } catch (e) {
    got = { ok: false, qemuVersion, reason: `cannot run ${qemuPath}: ${(e as Error).message.split('\n')[0]}` };
  }
  cache.set(key, got);
  return got;
}
