import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { adoptVirtiofsd } from './virtiofsd.js';

describe('adoptVirtiofsd', () => {
  it('treats a missing pid as exited and never signals it (pid 0 would be our process group)', async () => {
    const v = adoptVirtiofsd(0, '/nonexistent/vfs.sock');
    await v.exited;
    expect(() => v.kill()).not.toThrow();
  });

  it('follows the process serving its socket, and ignores a reused pid', async () => {
    const sock = '/tmp/bhk-test-vfs.sock';
    // Stands in for virtiofsd: a process whose argv carries "--socket-path=<sock>".
    const fake = spawn('sh', ['-c', 'sleep 30', 'virtiofsd', `--socket-path=${sock}`]);
    const other = spawn('sleep', ['30']);
    try {
      const reused = adoptVirtiofsd(other.pid!, sock);
      await reused.exited; // not a virtiofsd of this socket: exited at once
      reused.kill();
      expect(other.exitCode).toBeNull();
      expect(other.signalCode).toBeNull();
      const v = adoptVirtiofsd(fake.pid!, sock);
      let done = false;
      void v.exited.then(() => (done = true));
      await new Promise((r) => setTimeout(r, 300));
      expect(done).toBe(false);
      v.kill();
      await v.exited;
      expect(done).toBe(true);
    } finally {
      fake.kill('SIGKILL');
      other.kill('SIGKILL');
    }
  });
});
