// Process identity that survives pid reuse (pid_max is small here): pid + start time.
import { readdirSync, readFileSync } from 'node:fs';

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), undefined if gone. */
export function procStartTime(pid: number): string | undefined {
  if (!(pid > 0)) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may contain spaces and parentheses: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z' || rest[0] === 'X') return undefined; // zombie: already exited
    return rest[19];
  } catch {
    return undefined;
  }
}

/** True when the process with this pid is alive and (if given) is the same process as recorded. */
export function isSameProcessAlive(pid: number, startTime?: string): boolean {
  const st = procStartTime(pid);
  if (st === undefined) return false;
  return startTime === undefined || startTime === st;
}

/**
 * pid and its live descendants (by the ppid field of /proc/<pid>/stat, one scan of /proc). Used to
 * move a process with the children it already forked into another cgroup: writing a pid to
 * cgroup.procs moves its threads, not its children (virtiofsd's sandbox worker is one).
 */
export function processTree(root: number, procDir = '/proc'): number[] {
  const children = new Map<number, number[]>();
  let names: string[];
  try {
    names = readdirSync(procDir);
  } catch {
    return [root];
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`${procDir}/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      /* exited meanwhile */
    }
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length) {
    const pid = todo.shift()!;
    if (out.includes(pid)) continue;
    out.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return out;
}
