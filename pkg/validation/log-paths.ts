// Where container logs go: kubelet sends the pod's log_directory (absolute,
// /var/log/pods/<ns>_<name>_<uid>) in RunPodSandbox and each container's log_path relative to
// it (<container>/<restart>.log) in CreateContainer. The runtime, as root, creates that file and
// its parent directories (conmon, and the VM runtime's mkdir -p + append), so a log_path that
// climbs out with ".." or is absolute would let a CRI client create or append to any file on
// the host. Kubernetes never sends either: refuse them (INVALID_ARGUMENT) before anything is made.
import { isAbsolute, join, normalize, relative, sep } from 'node:path';
import { invalidArgument } from '../errors/errors.js';

/** RunPodSandbox: log_directory is empty (no logs) or an absolute path with no ".." segment. */
export function checkSandboxLogDirectory(logDirectory: string): void {
  if (!logDirectory) return;
  if (!isAbsolute(logDirectory)) throw invalidArgument(`log_directory "${logDirectory}" must be an absolute path`);
  if (logDirectory.split('/').includes('..')) throw invalidArgument(`log_directory "${logDirectory}" must not contain ".."`);
}

/**
 * CreateContainer: the container's log file, log_path resolved under the pod's log_directory;
 * '' when either is empty (no log file, as before). log_path must be relative and, normalized,
 * stay strictly inside the directory ("a/../b.log" is fine, "../x" and "a/../../x" are not).
 */
export function containerLogPath(logDirectory: string, logPath: string): string {
  if (!logPath) return '';
  if (isAbsolute(logPath)) throw invalidArgument(`log_path "${logPath}" must be relative to the pod's log_directory`);
  const inside = normalize(logPath);
  if (inside === '.' || inside === '..' || inside.startsWith(`..${sep}`)) {
    throw invalidArgument(`log_path "${logPath}" leaves the pod's log_directory`);
  }
  if (!logDirectory) return '';
  const full = join(logDirectory, inside);
  // Belt and braces: whatever normalize made of it, the result is below the directory.
  const rel = relative(logDirectory, full);
  if (!rel || rel.startsWith('..') || isAbsolute(rel)) throw invalidArgument(`log_path "${logPath}" leaves the pod's log_directory`);
  return full;
}
