// Runs commands inside a pinned network namespace through util-linux nsenter.
import { execFileResult, type ExecOptions, type ExecResult } from './exec-file.js';
import { spawnProcess, type SpawnedProcess } from './spawn.js';

/** Runs `cmd args` inside the network namespace pinned at netnsPath, capturing output. */
export function execInNetns(netnsPath: string, cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return execFileResult('nsenter', [`--net=${netnsPath}`, '--', cmd, ...args], opts);
}

/** Like execInNetns but rejects when the command exits non-zero; resolves with stdout. */
export async function execInNetnsOk(netnsPath: string, cmd: string, args: string[], opts: ExecOptions = {}): Promise<string> {
  const r = await execFileResult('nsenter', [`--net=${netnsPath}`, '--', cmd, ...args], opts);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} in netns ${netnsPath}: exit ${r.code ?? r.signal}: ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.stdout;
}

/** Starts a long-running command inside the netns (e.g. a listener); the caller owns the process. */
export function spawnInNetns(netnsPath: string, cmd: string, args: string[]): SpawnedProcess {
  return spawnProcess('nsenter', [`--net=${netnsPath}`, '--', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}
