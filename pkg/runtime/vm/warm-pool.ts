// Pre-booted pod-less VMs (handler pool_size): each waits in its own netns with a tap, agent
// connected; RunPodSandbox takes one (netns, VM dir and all) instead of booting. Boots one at a time
// so a refill never competes with more than one other VM boot for the CPU.
import { metrics } from '../../metrics/registry.js';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { createPodNamespaces, removePodNamespaces } from '../../network/namespaces.js';
import { releaseShortSocketDir } from '../../vm/socket-dir.js';
import { writeFileAtomicSync } from '../../store/atomic-file.js';
import { detachAllUnder } from '../../sys/mounts-under.js';
import { isSameProcessAlive, procStartTime } from '../../sys/proc.js';
import { vmPaths, vmProcessAlive, type MicroVm } from '../../vm/micro-vm.js';
import { shortSocketDir } from '../../vm/socket-dir.js';
import { adoptVirtiofsd } from '../../vm/virtiofsd.js';
import { createTap } from './tap-network.js';
import { podVmDir } from './vm-state.js';

/** In a slot a pod took: the pod's state dir. */
const TAKEN_BY = 'taken-by';
/** A pod's start on a pooled VM takes ~1.5-2 s of guest CPU under TCG: the refill waits that much and a margin. */
const REFILL_AFTER_TAKE_MS = 3_000;

export interface PoolBootRequest {
  name: string;
  vmDir: string;
  netns: string;
}

/**
 * What the pool needs of a booted VM (vm-booter.ts BootedVm is one): the pool does not know how VMs
 * boot, it is handed a booter, so it depends on nothing of the runtime that uses it.
 */
export interface PooledVm {
  vm: Pick<MicroVm, 'pid' | 'kill' | 'exited' | 'once' | 'removeAllListeners'>;
  vfs: { kill(): void };
  /** The slot's VM dir: <pool dir>/<slot>/vm. */
  vmDir: string;
  netns: string;
  readyMs: number;
}

export type PoolBooter<T extends PooledVm> = (r: PoolBootRequest) => Promise<T>;

export class WarmPool<T extends PooledVm = PooledVm> {
  private readonly ready: T[] = [];
  private booting: Promise<void> | null = null;
  private refillTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly size: number,
    private readonly dir: string,
    private readonly boot: PoolBooter<T>,
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

  /**
   * Hands a ready VM to the pod whose state dir is podStateDir. The slot leaves the pool's books
   * durably first (slot/taken-by, fsynced): a restarted daemon's cleanStale must never kill a VM a
   * pod runs in. A slot that can't be marked is discarded rather than handed out unmarked.
   */
  take(podStateDir: string): T | undefined {
    let b = this.ready.shift();
    if (b) {
      try {
        markSlotTaken(slotOf(b.vmDir), podStateDir);
      } catch (e) {
        this.log.error({ err: (e as Error).message, vmPid: b.vm.pid }, 'warm-pool slot could not be handed over: discarding it');
        b.vm.removeAllListeners('exit');
        void this.discard(b).then(() => this.refill());
        b = undefined;
      }
    }
    if (this.size > 0) {
      metrics.observeVmPool(this.handler, b !== undefined);
      this.reportSize();
    }
    return b;
  }

  /**
   * Refills after a pod took a VM, but not at once: the new VM's restore and warm-up would take the
   * CPU from the pod's own start (2 cores, TCG: the guest's create + start of the pod's first
   * container went from ~0.3 + 0.9 s to ~0.6-0.7 + 0.6-1.3 s with the refill beside it, 2026-12-05).
   */
  refillAfterTake(): void {
    if (this.closed || this.refillTimer) return;
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      this.refill();
    }, REFILL_AFTER_TAKE_MS);
    this.refillTimer.unref();
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

  private async discard(b: T): Promise<void> {
    b.vm.kill();
    b.vfs.kill();
    await b.vm.exited;
    await cleanSlot(join(b.vmDir, '..'));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.refillTimer);
    await this.booting; // an in-flight boot discards its VM itself once it sees closed
    const rest = this.ready.splice(0);
    this.reportSize();
    for (const b of rest) {
      b.vm.removeAllListeners('exit');
      await this.discard(b);
    }
  }

  /**
   * Start-up: VMs a previous daemon left waiting in the pool are not anyone's: kill them and free
   * their slots. Slots a pod took (taken-by naming a pod whose vm-dir pointer names the slot) belong
   * to that pod and are left alone; its RemovePodSandbox removes them. Only processes whose argv
   * names the slot are signalled (an empty pidfile is pid 0, i.e. our own process group; a pid may
   * have been reused), and one slot that can't be cleaned does not stop the others or the pool.
   */
  static async cleanStale(dir: string, log: Logger): Promise<void> {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const slot = join(dir, name);
      try {
        const owner = slotOwner(slot);
        if (owner) {
          log.info({ slot, podStateDir: owner }, 'warm-pool slot belongs to a pod: kept');
          continue;
        }
        await killSlotProcesses(slot);
        log.info({ slot }, 'removing stale warm-pool VM');
        await cleanSlot(slot);
      } catch (e) {
        log.error({ slot, err: (e as Error).message }, 'stale warm-pool slot could not be removed');
      }
    }
  }
}

function slotOf(vmDir: string): string {
  return dirname(vmDir);
}

function markSlotTaken(slot: string, podStateDir: string): void {
  writeFileAtomicSync(join(slot, TAKEN_BY), podStateDir);
}

/** The state dir of the pod that took this slot, if that pod still points at it. */
export function slotOwner(slot: string): string | undefined {
  let podStateDir: string;
  try {
    podStateDir = readFileSync(join(slot, TAKEN_BY), 'utf8').trim();
  } catch {
    return undefined;
  }
  // A pod removed, or cut off between the mark and its own pointer, no longer owns the slot.
  if (!podStateDir || !existsSync(podStateDir)) return undefined;
  return podVmDir(podStateDir) === join(slot, 'vm') ? podStateDir : undefined;
}

/** SIGKILLs the slot's QEMU and virtiofsd when (and only when) they are the slot's, then waits for them. */
async function killSlotProcesses(slot: string): Promise<void> {
  const vmDir = join(slot, 'vm');
  const vfsPid = pidFrom(join(vmDir, 'virtiofsd.pid'));
  if (vfsPid) {
    const vfs = adoptVirtiofsd(vfsPid, join(shortSocketDir(vmDir), 'vfs.sock'));
    vfs.kill();
    await vfs.exited;
  }
  // vmProcessAlive: the pidfile's pid runs a QEMU whose argv names that pidfile (not a reused pid).
  const qemu = vmProcessAlive(vmDir) ? pidFrom(vmPaths(vmDir).pidFile) : undefined;
  if (!qemu) return;
  const started = procStartTime(qemu);
  process.kill(qemu, 'SIGKILL');
  // SIGKILL of a QEMU takes a few ms; 5 s covers a loaded 2-core host.
  for (let i = 0; i < 250 && isSameProcessAlive(qemu, started); i++) await sleep(20);
}

function pidFrom(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function cleanSlot(slot: string): Promise<void> {
  releaseShortSocketDir(join(slot, 'vm'));
  await removePodNamespaces({ net: join(slot, 'ns', 'net') }).catch(() => undefined); // a slot whose netns is already gone; the slot dir is removed next
  // A pod cut off mid-hand-over may have left container rootfs/volume binds under the share:
  // rm must never recurse through a mount into what it shows.
  detachAllUnder(slot);
  await rm(slot, { recursive: true, force: true });
}
