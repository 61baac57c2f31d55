// Whether an OCI runtime binary can run user-namespace pods the way Bulkhead builds them: joined
// pinned user namespace + idmapped bind mounts (OCI mounts[].uidMappings), which runc has from
// 1.2.0 (Debian 12's 1.1.5 has neither idmapped volumes nor `runc features` idmap support),
// plus the idmap helper for the rootfs's lower layers (deploy/userns/bulkhead-idmap-mount.c).
import { execFileSync } from 'node:child_process';
import { basename, dirname } from 'node:path';
import { which } from '../../sys/which.js';
import type { UserNamespaceSupport } from '../pod-controller.js';

export const IDMAP_HELPER = 'bulkhead-idmap-mount';
const MIN_RUNC: readonly [number, number] = [1, 2];

/** "runc version 1.5.3" → [1, 5]; undefined when the text has no runc version line. */
export function runcVersion(versionText: string): [number, number] | undefined {
  const m = /^runc version (\d+)\.(\d+)/m.exec(versionText);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

export function probeUserNamespaceSupport(runtimePath: string, readVersion = defaultReadVersion): UserNamespaceSupport {
  const name = basename(runtimePath);
  // crun 1.8.1 (Debian 12) is not verified with idmapped volumes here: refused rather than guessed.
  if (!name.startsWith('runc')) return { unsupported: `${name}: user-namespace pods are supported on runc >= 1.2 handlers only` };
  let text: string;
  try {
    text = readVersion(runtimePath);
  } catch (e) {
    return { unsupported: `${runtimePath} --version failed: ${(e as Error).message}` };
  }
  const v = runcVersion(text);
  if (!v) return { unsupported: `${runtimePath} --version does not name a runc version` };
  if (v[0] < MIN_RUNC[0] || (v[0] === MIN_RUNC[0] && v[1] < MIN_RUNC[1])) {
    return { unsupported: `runc ${v.join('.')} at ${runtimePath} has no idmapped mounts (user-namespace pods need runc >= ${MIN_RUNC.join('.')}; deploy/install.sh installs one)` };
  }
  // Beside the runtime first (deploy/install.sh and e2e/setup.sh install both together), then PATH.
  const helper = which(`${dirname(runtimePath)}/${IDMAP_HELPER}`) ?? which(IDMAP_HELPER);
  if (!helper) return { unsupported: `${IDMAP_HELPER} not found beside ${runtimePath} or on PATH (deploy/install.sh builds it)` };
  return { idmapHelper: helper };
}

function defaultReadVersion(path: string): string {
  // Once per handler at first use; runc --version takes ~5 ms.
  return execFileSync(path, ['--version'], { encoding: 'utf8', timeout: 10_000 });
}
