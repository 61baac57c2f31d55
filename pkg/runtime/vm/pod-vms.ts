// The pod VMs of a handler and their lifecycle: adopting a booted VM for a pod, watching it die (QEMU
// exit, virtiofsd exit, a guest breaking the agent protocol), reattaching to it after a daemon restart
// (QMP + pidfiles, then the agent channel), and stopping it. What a VM's death or reattach means for
// its containers is the hooks' business (guest-containers.ts).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { failedPrecondition } from '../../errors/errors.js';
import { MicroVm } from '../../vm/micro-vm.js';
import { adoptVirtiofsd } from '../../vm/virtiofsd.js';
import { shortSocketDir } from '../../vm/socket-dir.js';
import { podVmDir } from './vm-state.js';
import type { BootedVm } from './vm-booter.js';

/** Reattaching: the agent of a VM that survived the daemon answers Hello in ms; 10 s means it won't. */
const REATTACH_AGENT_TIMEOUT_MS = 10_000;
/**
 * ...or not yet: a TCG guest on a host at load 16 took longer (cold CI run, e2e/vm-pod.spec.ts). A
 * live VM whose agent did not answer is tried again every 5 s for 5 minutes, so a slow guest is not
 * left unreachable for the rest of the daemon's life.
 */
const REATTACH_RETRY_EVERY_MS = 5_000;
const REATTACH_RETRY_FOR_MS = 300_000;

/** A pod's VM: what booting it gave (less the boot timing), and how it ends. */
export interface PodVm extends Omit<BootedVm, 'readyMs'> {
  dead: boolean;
  /** Set by stop(): the VM and virtiofsd are going away on purpose. */
  stopping?: boolean;
  /** Why the daemon ended the VM itself (e.g. virtiofsd died), for the containers' exit message. */
  deathCause?: string;
}

export interface PodVmHooks {
  /** The pod's VM is gone (why: the cause and QEMU's exit); its containers can no longer run. */
  died(podId: string, why: string, log: Logger): void;
  /** After a restart the agent answered again: rebuild the containers' states from the guest. */
  reattached(podId: string, pod: PodVm, log: Logger): Promise<void>;
}

export class PodVms {
  private readonly pods = new Map<string, PodVm>();
  private readonly reattaching = new Map<string, Promise<PodVm | undefined>>();
  /** When the pod's last reattach began (bounds how long container statuses wait for it). */
  private readonly reattachStarted = new Map<string, number>();
  /** closeChannels() was called: no more background agent retries. */
  private closed = false;

  constructor(
    /** Daemon state dir: pod dirs are <state>/pods/<id> (their vm-dir pointer is read on reattach). */
    private readonly stateDir: string,
    private readonly log: Logger,
    private readonly hooks: PodVmHooks,
  ) {}

  /** The pod's VM as this daemon knows it (undefined: not adopted or reattached yet). */
  get(podId: string): PodVm | undefined {
    return this.pods.get(podId);
  }

  /** The pod's running VM, reattaching after a restart if needed. */
  async running(podId: string): Promise<PodVm> {
    const p = this.pods.get(podId) ?? (await this.reattach(podId));
    if (!p || p.dead) throw failedPrecondition(`pod ${podId}: its VM is not running`);
    return p;
  }

  /** Makes a booted VM (fresh or from the warm pool) the pod's and watches it. */
  adopt(podId: string, b: BootedVm, log: Logger): PodVm {
    b.vm.removeAllListeners('exit');
    const pod: PodVm = { vm: b.vm, vfs: b.vfs, vmDir: b.vmDir, shareDir: b.shareDir, netns: b.netns, bootMac: b.bootMac, dead: false };
    this.watch(podId, pod, log);
    return pod;
  }

  private watch(podId: string, pod: PodVm, log: Logger): void {
    this.pods.set(podId, pod);
    pod.vm.on('exit', (ex) => this.onVmDeath(podId, `${ex.shutdownReason ?? 'exit'} (code ${ex.code}, signal ${ex.signal})`, log));
    this.watchVirtiofsd(podId, pod, log);
    this.watchAgentChannel(podId, pod, log);
  }

  /**
   * The agent channel closes with an error when the guest broke the protocol (pkg/vmchannel
   * GuestProtocolError): nothing it says can be trusted any more, so the VM is stopped and its
   * containers turn exited (PodVMDied) naming the violation.
   */
  private watchAgentChannel(podId: string, pod: PodVm, log: Logger): void {
    pod.vm.agent.on('disconnect', (err) => {
      if (!err || pod.stopping || pod.dead || pod.vm.exit || this.pods.get(podId) !== pod) return;
      log.error({ podId, vmPid: pod.vm.pid, err: err.message }, 'agent channel of the pod VM closed on bad guest input: stopping the VM');
      pod.deathCause = err.message;
      pod.vm.kill();
    });
  }

  /**
   * virtiofsd serves every container's rootfs and volumes: a pod VM without it only has I/O errors
   * left, so its death ends the VM (as Kata does); the containers turn exited saying why.
   */
  private watchVirtiofsd(podId: string, pod: PodVm, log: Logger): void {
    void pod.vfs.exited.then(() => {
      if (pod.stopping || pod.dead || pod.vm.exit || this.pods.get(podId) !== pod) return;
      log.warn({ podId, vfsPid: pod.vfs.pid }, 'virtiofsd of the pod VM exited: stopping the VM');
      pod.deathCause = 'virtiofsd exited';
      pod.vm.kill();
    });
  }

  private onVmDeath(podId: string, vmExit: string, log: Logger): void {
    const pod = this.pods.get(podId);
    // QEMU exits on its own when virtiofsd goes: an adopted virtiofsd (after a daemon restart) is
    // polled, so its watcher may not have named the cause yet.
    if (pod && !pod.deathCause && !pod.stopping && !pod.vfs.alive()) pod.deathCause = 'virtiofsd exited';
    const why = pod?.deathCause ? `${pod.deathCause}, VM stopped: ${vmExit}` : vmExit;
    if (pod) pod.dead = true;
    pod?.vfs.kill();
    this.hooks.died(podId, why, log);
  }

  /**
   * After a daemon restart: finds the pod's QEMU (pidfile + QMP socket), reconnects the agent channel
   * (the agent waits for a host on EOF) and has the hooks rebuild the container states.
   */
  reattach(podId: string): Promise<PodVm | undefined> {
    const have = this.pods.get(podId);
    if (have) return Promise.resolve(have);
    let p = this.reattaching.get(podId);
    if (!p) {
      this.reattachStarted.set(podId, Date.now());
      p = this.doReattach(podId).finally(() => this.reattaching.delete(podId));
      this.reattaching.set(podId, p);
    }
    return p;
  }

  /**
   * reattach(), waited for at most ms from when this pod's reattach began (so a VM that does not answer
   * costs start-up recovery ms once, not per container); it goes on in the background after that.
   */
  async reattachWithin(podId: string, ms: number): Promise<void> {
    const attempt = this.reattach(podId);
    const started = this.reattachStarted.get(podId) ?? Date.now();
    const left = started + ms - Date.now();
    if (left <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([attempt, new Promise<void>((r) => (timer = setTimeout(r, left)))]);
    clearTimeout(timer);
  }

  private async doReattach(podId: string): Promise<PodVm | undefined> {
    const podDir = join(this.stateDir, 'pods', podId);
    const vmDir = podVmDir(podDir);
    if (!existsSync(join(vmDir, 'qemu.pid'))) return undefined;
    const log = this.log.child({ podId });
    let vm: MicroVm;
    try {
      vm = await MicroVm.attach(vmDir, log);
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'pod VM not reachable after restart');
      return undefined;
    }
    let vfsPid = 0;
    try {
      vfsPid = Number(readFileSync(join(vmDir, 'virtiofsd.pid'), 'utf8'));
    } catch {
      /* none */
    }
    const pod: PodVm = {
      vm,
      vfs: adoptVirtiofsd(vfsPid, join(shortSocketDir(vmDir), 'vfs.sock')),
      vmDir,
      shareDir: join(vmDir, 'share'),
      netns: '',
      bootMac: '',
      dead: false,
    };
    this.watch(podId, pod, log);
    try {
      await vm.connectAgent(REATTACH_AGENT_TIMEOUT_MS);
      await this.hooks.reattached(podId, pod, log);
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'pod VM agent did not answer after restart: trying again in the background');
      this.retryAgent(podId, pod, log, Date.now());
    }
    return pod;
  }

  /** Another try at a reattached VM's agent (see REATTACH_RETRY_EVERY_MS), while the VM is this pod's and alive. */
  private retryAgent(podId: string, pod: PodVm, log: Logger, since: number): void {
    const timer = setTimeout(() => {
      if (this.closed || pod.dead || pod.stopping || pod.vm.exit || this.pods.get(podId) !== pod || pod.vm.agent.connected) return;
      pod.vm
        .connectAgent(REATTACH_AGENT_TIMEOUT_MS)
        .then(() => this.hooks.reattached(podId, pod, log))
        .then(
          () => log.info({ afterMs: Date.now() - since }, 'pod VM agent answered on a later try'),
          (e: unknown) => {
            if (Date.now() - since < REATTACH_RETRY_FOR_MS) this.retryAgent(podId, pod, log, since);
            else log.error({ err: (e as Error).message }, 'pod VM agent did not answer for 5 minutes: its containers stay unreachable');
          },
        );
    }, REATTACH_RETRY_EVERY_MS);
    timer.unref();
  }

  /** Shuts the pod's VM down (agent Shutdown, then QMP quit, then SIGKILL) and ends its virtiofsd. */
  async stop(podId: string): Promise<void> {
    const p = this.pods.get(podId) ?? (await this.reattach(podId));
    if (!p) return;
    p.stopping = true;
    if (!p.vm.exit) await p.vm.shutdown(5000);
    p.vfs.kill();
    await p.vfs.exited;
    p.dead = true;
  }

  /** The pod is removed: its VM is no longer this registry's. */
  forget(podId: string): void {
    this.pods.delete(podId);
    this.reattachStarted.delete(podId);
  }

  /** Daemon shutdown: VMs outlive the daemon on purpose (a restarted daemon reattaches); only the channels close. */
  closeChannels(): void {
    this.closed = true;
    for (const p of this.pods.values()) {
      p.vm.removeAllListeners('exit');
      p.vm.agent.close();
      p.vm.qmp.close();
    }
  }
}
