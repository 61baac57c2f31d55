// Creating a pod's user namespace (first, so that it owns the pod's other namespaces) with its
// mappings, pinned like the other pod namespaces.
//
// util-linux 2.38's `unshare --map-users` (Debian 12) needs newuidmap and /etc/subuid entries
// even for root, and its --user=FILE/--net=FILE pinning fails with EPERM once --user is given, so
// both are done here: the shell unshare runs in the new namespaces says "ready", waits while we
// write /proc/<pid>/{uid,gid}_map (root of the parent namespace may map any range) and
// bind-mount /proc/<pid>/ns/* onto the pin files, then exits. The in-namespace setup runs
// after, through nsenter (namespaces.ts).
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import type { ExecResult } from '../sys/exec-file.js';
import { mountAsync } from '../sys/mount-async.js';
import { MS_BIND } from '../sys/mount.js';

/** container id → host id ranges, one each (pkg/oci/user-namespace.ts validated them). */
export interface UserNamespaceMapping {
  uids: { containerId: number; hostId: number; size: number };
  gids: { containerId: number; hostId: number; size: number };
}

/** Announce, wait for the mappings and pins, fail closed on EOF. */
const HANDSHAKE = `
echo ready
read -r go || exit 35
[ "$go" = go ] || exit 35
`;

const line = (m: UserNamespaceMapping['uids']) => `${m.containerId} ${m.hostId} ${m.size}\n`;

/** `unshare NS_ARGS` (--user among them): the new namespaces mapped and pinned onto `pins`. */
export function runInNewUserNamespace(nsArgs: string[], map: UserNamespaceMapping, pins: Partial<Record<'user' | 'net' | 'ipc' | 'uts', string>>, timeoutMs: number): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', [...nsArgs, '--', '/bin/sh', '-c', HANDSHAKE], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let mapped = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const writeMaps = async (pid: number) => {
      // gid_map after uid_map; both once, whole, as the kernel wants them.
      await writeFile(`/proc/${pid}/uid_map`, line(map.uids));
      await writeFile(`/proc/${pid}/gid_map`, line(map.gids));
      for (const [kind, file] of Object.entries(pins)) await mountAsync(`/proc/${pid}/ns/${kind}`, file, null, MS_BIND);
    };
    child.stdout.on('data', (b: Buffer) => {
      out.push(b);
      if (mapped || !Buffer.concat(out).toString().includes('ready\n')) return;
      mapped = true;
      writeMaps(child.pid!).then(
        () => child.stdin.end('go\n'),
        (e: unknown) => {
          err.push(Buffer.from(`mapping or pinning the user namespace failed: ${(e as Error).message}\n`));
          child.stdin.end();
        },
      );
    });
    child.stdin.on('error', () => undefined); // the shell may be gone already; its exit says why
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString().replace(/^ready\n/, '');
      resolve({ code, signal, stdout, stderr: Buffer.concat(err).toString() });
    });
  });
}
