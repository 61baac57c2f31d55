// Runs a helper binary (crun, ip, mount) in the guest and returns its output; non-zero exit throws
// with the tool's stderr so the host sees the real reason.
import { spawn } from 'node:child_process';

export class ToolError extends Error {}

export function run(cmd: string, args: string[], opts: { input?: string | Buffer } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', (e) => reject(new ToolError(`${cmd}: ${e.message}`)));
    p.on('close', (code, sig) => {
      if (code === 0) resolve(out);
      else reject(new ToolError(`${cmd} ${args.join(' ')}: ${sig ? `signal ${sig}` : `exit ${code}`}: ${err.trim() || out.trim()}`));
    });
    p.stdin.on('error', () => undefined); // EPIPE when the tool exits without reading stdin
    p.stdin.end(opts.input ?? '');
  });
}
