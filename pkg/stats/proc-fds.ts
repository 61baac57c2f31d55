// Open file descriptors and sockets of a container's processes, and the soft open-files limit of
// its first process, read from /proc the way cAdvisor's process stats do.
import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

export interface ProcFdCounts {
  fds: number;
  sockets: number;
}

/**
 * Counts fds and sockets of every pid. Undefined when any pid's fd directory cannot be read for a
 * reason other than the process having exited (ENOENT/ESRCH): a partial sum is not the container's.
 */
export async function countFds(pids: readonly number[], procRoot = '/proc'): Promise<ProcFdCounts | undefined> {
  let fds = 0;
  let sockets = 0;
  for (const pid of pids) {
    const dir = join(procRoot, String(pid), 'fd');
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ESRCH') continue; // exited between cgroup.procs and here
      return undefined;
    }
    fds += names.length;
    for (const n of names) {
      const target = await readlink(join(dir, n)).catch(() => ''); // the fd closed meanwhile
      if (target.startsWith('socket:')) sockets++;
    }
  }
  return { fds, sockets };
}

/** Soft "Max open files" of /proc/<pid>/limits; undefined when unlimited or unreadable. */
export async function softOpenFilesLimit(pid: number, procRoot = '/proc'): Promise<number | undefined> {
  const text = await readFile(join(procRoot, String(pid), 'limits'), 'utf8').catch(() => undefined); // the process exited meanwhile
  const m = text === undefined ? null : /^Max open files\s+(\S+)/m.exec(text);
  return m && /^\d+$/.test(m[1]!) ? Number(m[1]) : undefined;
}
