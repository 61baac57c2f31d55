import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { childrenOf } from './proc-stat.js';
import { OrphanCollector } from './reaper.js';

describe('OrphanCollector', () => {
  it('adopts a daemonized grandchild and counts its CPU from its zombie, then reaps it', async () => {
    const own: number[] = [];
    const reaper = new OrphanCollector(() => own);
    // A child from before enable() (like a daemon) is the bench's own: never counted.
    const daemon = spawn('sleep', ['5'], { stdio: 'ignore' });
    reaper.enable();
    try {
      expect(reaper.begin()).toBe(0);
      // sh starts a busy child in the background and exits at once: the child is an orphan, ours now.
      const sh = spawn('sh', ['-c', 'sh -c "i=0; while [ \\$i -lt 30000 ]; do i=\\$((i+1)); done" & exit 0'], { stdio: 'ignore' });
      own.push(sh.pid!); // libuv reaps sh itself: never ours to count or reap
      await once(sh, 'exit');
      // Adopted, then a zombie of ours until end() reaps it.
      const orphan = () => childrenOf(process.pid).filter((p) => p.pid !== sh.pid && p.pid !== daemon.pid);
      for (let t = 0; t < 200 && !orphan().some((p) => p.state === 'Z'); t++) await sleep(25);
      expect(orphan().map((p) => p.state)).toEqual(['Z']);
      const got = reaper.end();
      expect(got.exited).toBe(1);
      expect(got.running).toBe(0);
      expect(got.comms).toEqual({ sh: 1 });
      expect(got.ticks).toBeGreaterThan(0);
      expect(reaper.end()).toEqual({ ticks: 0, exited: 0, running: 0, comms: {} }); // reaped: gone
    } finally {
      reaper.disable();
      daemon.kill();
    }
  });
});
