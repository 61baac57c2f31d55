// Runs a helper binary (crun, ip, mount) in the guest and returns its output; non-zero exit throws
// with the tool's stderr so the host sees the real reason.
import { spawn } from 'node:child_process';

export class ToolError extends Error {}

export function run(cmd: string, args: string[], opts: { input?: string | Buffer; label?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', (e) => reject(new ToolError(`${cmd}: ${e.message}`)));
    p.on('close', (code, sig) => {
      if (code === 0) resolve(out);
      else reject(new ToolError(`${opts.label ?? `${cmd} ${args.join(' ')}`}: ${sig ? `signal ${sig}` : `exit ${code}`}: ${err.trim() || out.trim()}`));
    });
    p.stdin.on('error', () => undefined); // EPIPE when the tool exits without reading stdin
    p.stdin.end(opts.input ?? '');
  });
}

/** One word for sh: single-quoted, a quote inside closed, escaped and reopened. */
export function shQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs commands in order in one busybox sh, stopping at the first that fails (its stderr and the
 * command make the error). Every run() forks this Node process: 0.1-0.3 s each under TCG, where a
 * pod's network setup took 8 of them; sh forks itself for each command instead, a few ms.
 */
export async function runAll(commands: readonly (readonly string[])[]): Promise<void> {
  if (!commands.length) return;
  const script = commands
    .map((c) => {
      const line = c.map(shQuote).join(' ');
      return `${line} || { echo ${shQuote(`failed: ${c.join(' ')}`)} >&2; exit 1; }`;
    })
    .join('\n');
  // The error names the failing command (the script's own stderr line), not the whole script.
  await run('/bin/sh', ['-c', script], { label: `sh (${commands.length} commands)` });
}
