// Pre-booted pod-less VMs (handler pool_size): each waits in its own netns with a tap, agent
// connected; RunPodSandbox takes one (netns, VM dir and all) instead of booting. Boots one at a time
// so a refill never competes with more than one other VM boot for the CPU.
import { metrics } from '../../metrics/registry.js';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { createPodNamespaces, removePodNamespaces } from '../../network/namespaces.js';
import { releaseShortSocketDir } from '../../vm/socket-dir.js';
import { createTap } from './tap-network.js';
import type { BootedVm } from './vm-runtime.js';

export interface PoolBootRequest {
  name: string;
  vmDir: string;
  netns: string;
}

export class WarmPool {
  private readonly ready: BootedVm[] = [];
  private booting: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly size: number,
    private readonly dir: string,
    private readonly boot: (r: PoolBootRequest) => Promise<BootedVm>,
    private readonly log: Logger,
    /** Handler name for the pool metrics (bulkhead_vm_pool_*). */
    private readonly handler: string,
  ) {}

  private reportSize(): void {
    metrics.setVmPoolSize(this.handler, this.ready.length);
  }

  get readyCount(): number {
    return this.ready.length;
  }

  take(): BootedVm | undefined {
    const b = this.ready.shift();
    if (this.size > 0) {
      metrics.observeVmPool(this.handler, b !== undefined);
      this.reportSize();
    }
    return b;
  }

  /** Boots VMs (sequentially) until size are ready. */
  refill(): void {
    if (this.closed || this.booting || this.ready.length >= this.size) return;
    this.booting = this.bootOne().finally(() => {
      this.booting = null;
      this.refill();
    });
  }

  private async bootOne(): Promise<void> {
    const slot = join(this.dir, randomBytes(6).toString('hex'));
    const vmDir = join(slot, 'vm');
    mkdirSync(vmDir, { recursive: true, mode: 0o700 });
    try {
      const ns = await createPodNamespaces({ dir: join(slot, 'ns'), net: true, ipc: false, uts: false, sysctls: {} });
      await createTap(ns.net!);
      const b = await this.boot({ name: `bulkhead-pool-${slot.slice(-12)}`, vmDir, netns: ns.net! });
      if (this.closed) {
        await this.discard(b);
        return;
      }
      b.vm.once('exit', () => {
        const i = this.ready.indexOf(b);
        if (i >= 0) this.ready.splice(i, 1);
        this.reportSize();
        this.log.warn({ vmPid: b.vm.pid }, 'warm-pool VM died');
        void this.discard(b).then(() => this.refill());
      });
      this.ready.push(b);
      this.reportSize();
      this.log.info({ vmPid: b.vm.pid, readyMs: b.readyMs, ready: this.ready.length }, 'warm-pool VM ready');
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'warm-pool VM boot failed');
      await cleanSlot(slot);
      await sleep(5000); // do not spin on a broken setup
    }
  }

  private async discard(b: BootedVm): Promise<void> {
    b.vm.kill();
    b.vfs.kill();
    await b.vm.exited;
    await cleanSlot(join(b.vmDir, '..'));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.booting; // an in-flight boot discards its VM itself once it sees closed
    const rest = this.ready.splice(0);
    this.reportSize();
    for (const b of rest) {
      b.vm.removeAllListeners('exit');
      await this.discard(b);
    }
  }

  /** Start-up: VMs a previous daemon left in the pool are not anyone's: kill them, free their netns. */
  static async cleanStale(dir: string, log: Logger): Promise<void> {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const slot = join(dir, name);
      for (const f of ['qemu.pid', 'virtiofsd.pid']) {
        try {
          const pid = Number(readFileSync(join(slot, 'vm', f), 'utf8'));
          if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(slot) || f === 'virtiofsd.pid') process.kill(pid, 'SIGKILL');
        } catch {
          /* not running */
        }
      }
      log.info({ slot }, 'removing stale warm-pool VM');
      await cleanSlot(slot);
    }
  }
}

async function cleanSlot(slot: string): Promise<void> {
  releaseShortSocketDir(join(slot, 'vm'));
  await removePodNamespaces({ net: join(slot, 'ns', 'net') }).catch(() => undefined);
  await rm(slot, { recursive: true, force: true });
}
