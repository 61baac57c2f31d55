import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, test } from 'vitest';
import { procStartTime } from '../../sys/proc.js';
import { WarmPool, slotOwner } from './warm-pool.js';
import { savePodVmState } from './vm-state.js';

const log = pino({ level: 'silent' });
const children: ChildProcess[] = [];

/** A long-lived stand-in process whose argv names `arg` (as QEMU's names its pidfile). */
function standIn(arg: string): number {
  const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)', arg], { stdio: 'ignore' });
  children.push(c);
  return c.pid!;
}

function alive(pid: number): boolean {
  return procStartTime(pid) !== undefined;
}

async function waitGone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
  return !alive(pid);
}

/** A pool slot as bootOne leaves it: slot/vm with QEMU's pidfile (and virtiofsd's). */
function makeSlot(poolDir: string, name: string): { slot: string; vmDir: string; qemuPidFile: string } {
  const slot = join(poolDir, name);
  const vmDir = join(slot, 'vm');
  mkdirSync(vmDir, { recursive: true });
  return { slot, vmDir, qemuPidFile: join(vmDir, 'qemu.pid') };
}

afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

describe('WarmPool.cleanStale after a daemon restart', () => {
  test('keeps slots pods took, kills only the slot processes it can identify, frees the rest', async () => {
    const root = mkdtempSync(join(tmpdir(), 'bh-pool-'));
    const poolDir = join(root, 'vm-pool', 'microvm');
    try {
      // A slot a pod took: pointer and taken-by agree.
      const taken = makeSlot(poolDir, 'aaaaaaaaaaaa');
      const podDir = join(root, 'pods', 'p1');
      mkdirSync(podDir, { recursive: true });
      savePodVmState(podDir, { vmDir: taken.vmDir });
      writeFileSync(join(taken.slot, 'taken-by'), podDir);
      const takenQemu = standIn(taken.qemuPidFile);
      writeFileSync(taken.qemuPidFile, String(takenQemu));

      // A slot still waiting in the pool: its QEMU is the pool's and dies.
      const waiting = makeSlot(poolDir, 'bbbbbbbbbbbb');
      const waitingQemu = standIn(waiting.qemuPidFile);
      writeFileSync(waiting.qemuPidFile, String(waitingQemu));

      // Empty virtiofsd pidfile (pid 0 = our own process group) and a QEMU pidfile naming a pid that
      // is now someone else's process: neither gets a signal.
      const reused = makeSlot(poolDir, 'cccccccccccc');
      writeFileSync(join(reused.vmDir, 'virtiofsd.pid'), '');
      const stranger = standIn('not-a-qemu');
      writeFileSync(reused.qemuPidFile, String(stranger));

      // taken-by naming a pod that is gone: the slot is an orphan and is freed.
      const orphan = makeSlot(poolDir, 'dddddddddddd');
      writeFileSync(join(orphan.slot, 'taken-by'), join(root, 'pods', 'gone'));

      await WarmPool.cleanStale(poolDir, log);

      expect(alive(takenQemu)).toBe(true);
      expect(existsSync(taken.slot)).toBe(true);
      expect(slotOwner(taken.slot)).toBe(podDir);
      expect(await waitGone(waitingQemu)).toBe(true);
      expect(existsSync(waiting.slot)).toBe(false);
      expect(alive(stranger)).toBe(true);
      expect(existsSync(reused.slot)).toBe(false);
      expect(existsSync(orphan.slot)).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a pod whose own state names another VM dir does not own the slot', () => {
    const root = mkdtempSync(join(tmpdir(), 'bh-pool-'));
    try {
      const s = makeSlot(join(root, 'pool'), 'eeeeeeeeeeee');
      const podDir = join(root, 'pods', 'p2');
      mkdirSync(podDir, { recursive: true });
      writeFileSync(join(s.slot, 'taken-by'), podDir);
      // cut off between the mark and its state file: the pod's VM dir defaults to <pod>/vm
      expect(slotOwner(s.slot)).toBeUndefined();
      savePodVmState(podDir, { vmDir: s.vmDir });
      expect(slotOwner(s.slot)).toBe(podDir);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
