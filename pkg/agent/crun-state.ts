// Whether `crun run` has its container running, read from crun's own state files instead of
// `crun state`: every spawn forks the agent's Node process (0.1-0.3 s under TCG), and StartContainer
// polled that until the container ran. crun keeps <root>/<id>/status (JSON with the init pid, written
// once the container process exists) and, between `create` and `start`, <root>/<id>/exec.fifo; its
// `state` says "running" when the pid is alive and there is no fifo: the same test is made here.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The running container's init pid, or undefined while it is not (yet) running. */
export function crunRunningPid(root: string, id: string): number | undefined {
  let pid: unknown;
  try {
    pid = (JSON.parse(readFileSync(join(root, id, 'status'), 'utf8')) as { pid?: unknown }).pid;
  } catch {
    return undefined; // not written yet (crun writes it once the container process exists)
  }
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return undefined;
  if (existsSync(join(root, id, 'exec.fifo'))) return undefined; // created, not started
  return isLive(pid) ? pid : undefined;
}

/** Alive and not a zombie (a reaped-later exit must not read as running). */
function isLive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false; // gone
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}
