// An idmapped bind mount through deploy/userns/bulkhead-idmap-mount (open_tree + mount_setattr
// MOUNT_ATTR_IDMAP + move_mount): util-linux 2.38 (Debian 12) has no X-mount.idmap option yet.
import { execFileResult } from './exec-file.js';

export async function idmapBindMount(helper: string, usernsFile: string, source: string, target: string): Promise<void> {
  // Each call is one short syscall sequence; 10 s only passes on a wedged filesystem.
  const r = await execFileResult(helper, [usernsFile, source, target], { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`idmapped mount of ${source} failed: ${r.stderr.trim() || `exit ${r.code ?? r.signal}`}`);
}
