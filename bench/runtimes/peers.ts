// Where bench/setup/build-peers.sh leaves the peers it builds from the Go module proxy, and whether
// they are there. Versions and dir come from the same variables the script reads.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const PEERS_DIR = process.env.BULKHEAD_PEERS_DIR ?? '/var/cache/bulkhead-tools/peers';
export const CONTAINERD2_VERSION = (process.env.CONTAINERD2_VERSION ?? 'v2.4.2').replace(/^v/, '');
export const CRIO_VERSION = (process.env.CRIO_VERSION ?? 'v1.34.0').replace(/^v/, '');

export type BuiltPeer = 'containerd2' | 'crio';

const BINARIES: Record<BuiltPeer, { dir: string; files: string[] }> = {
  containerd2: { dir: join(PEERS_DIR, `containerd-${CONTAINERD2_VERSION}`), files: ['containerd', 'containerd-shim-runc-v2'] },
  crio: { dir: join(PEERS_DIR, `crio-${CRIO_VERSION}`), files: ['crio', 'pinns'] },
};

export function peerDir(peer: BuiltPeer): string {
  return BINARIES[peer].dir;
}

export function peerBuilt(peer: BuiltPeer): boolean {
  const b = BINARIES[peer];
  return b.files.every((f) => existsSync(join(b.dir, f)));
}

/** Runs the setup script for the peers not cached yet; returns why each one that is still missing is. */
export function buildPeers(repo: string, peers: BuiltPeer[], log: (m: string) => void): Map<BuiltPeer, string> {
  const todo = peers.filter((p) => !peerBuilt(p));
  const missing = new Map<BuiltPeer, string>();
  if (!todo.length) return missing;
  log(`building ${todo.join(', ')} (bench/setup/build-peers.sh; cached under ${PEERS_DIR} afterwards)`);
  try {
    execFileSync('bash', [join(repo, 'bench/setup/build-peers.sh'), ...todo.map((p) => (p === 'crio' ? 'crio' : 'containerd'))], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  } catch {
    /* reported per peer below */
  }
  for (const p of todo) if (!peerBuilt(p)) missing.set(p, `build failed (see bench/setup/build-peers.sh output above)`);
  return missing;
}
