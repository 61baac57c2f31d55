// Process identity that survives pid reuse (pid_max is small here): pid + start time.
import { readFileSync } from 'node:fs';

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
