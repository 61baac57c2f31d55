// The host's view of the containers running in pod VMs: their states, kept current by exit watching
// (a WaitContainer per running container), by the VM's death (all exit PodVMDied) and, after a
// daemon restart, by the guest's own list; and the shipping of each container's log to the host.
import { appendFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { ContainerRecord } from '../../store/records.js';
import type { ContainerRuntimeState } from '../task-runtime.js';
import { LogShipper } from './log-shipper.js';
import type { PodVm } from './pod-vms.js';

export interface VmContainer {
  podId: string;
  state: ContainerRuntimeState;
  /** Bytes of the guest log already appended to the host log. */
  logOffset: number;
  following?: boolean;
  /** The agent sent the whole log of the exited container. */
  logDone?: boolean;
}

/** How long settle() waits for the exit watcher to record an exit the caller already saw: 50 × 10 ms. */
const SETTLE_POLLS = 50;
const SETTLE_POLL_MS = 10;

export class GuestContainers {
  private readonly ctrs = new Map<string, VmContainer>();
  private readonly exitListeners: ((id: string) => void)[] = [];

  get(id: string): VmContainer | undefined {
    return this.ctrs.get(id);
  }

  has(id: string): boolean {
    return this.ctrs.has(id);
  }

  set(id: string, vc: VmContainer): void {
    this.ctrs.set(id, vc);
  }

  delete(id: string): void {
    this.ctrs.delete(id);
  }

  onExit(listener: (containerId: string) => void): void {
    this.exitListeners.push(listener);
  }

  private exited(id: string): void {
    for (const l of this.exitListeners) l(id);
  }

  /** Records the container's exit once the agent's WaitContainer answers. */
  async watchExit(id: string, pod: PodVm, log: Logger): Promise<void> {
    try {
      const st = await pod.vm.agent.call('wait_container', { container_id: id });
      const vc = this.ctrs.get(id);
      if (!vc || vc.state.status === 'exited') return;
      vc.state = { status: 'exited', pid: 0, exitCode: st.exit_code, finishedAt: st.finished_at_ns, oomKilled: st.reason === 'OOMKilled' };
      log.info({ containerId: id, exitCode: st.exit_code, reason: st.reason }, 'container in pod VM exited');
      this.exited(id);
    } catch {
      /* VM death is handled by podDied */
    }
  }

  /** Lets the exit watcher record the status it got. */
  async settle(id: string): Promise<void> {
    for (let i = 0; i < SETTLE_POLLS && this.ctrs.get(id)?.state.status === 'running'; i++) await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
  }

  /** The pod's VM is gone: nothing in it runs any more. */
  podDied(podId: string, why: string, log: Logger): void {
    for (const [id, c] of this.ctrs) {
      if (c.podId !== podId || c.state.status === 'exited') continue;
      c.state = { status: 'exited', pid: 0, exitCode: 255, finishedAt: nowNs(), reason: 'PodVMDied', message: `the pod's micro-VM exited: ${why}` };
      log.warn({ podId, containerId: id, why }, 'pod VM died: container marked exited');
      this.exited(id);
    }
  }

  /** After a daemon restart: the guest's list is the truth; running containers are watched again. */
  async restore(podId: string, pod: PodVm, log: Logger): Promise<void> {
    const list = await pod.vm.agent.call('list_containers', {}, { timeoutMs: 10_000 });
    for (const gc of list.containers) {
      const state: ContainerRuntimeState =
        gc.state === 'exited'
          ? { status: 'exited', pid: 0, exitCode: gc.exit?.exit_code ?? -1, finishedAt: gc.exit?.finished_at_ns, oomKilled: gc.exit?.reason === 'OOMKilled' }
          : { status: gc.state === 'running' ? 'running' : 'created', pid: gc.pid };
      this.ctrs.set(gc.container_id, { podId, state, logOffset: 0 });
      if (state.status === 'running') void this.watchExit(gc.container_id, pod, log);
    }
    log.info({ vmPid: pod.vm.pid, containers: this.ctrs.size }, 'reattached to pod VM');
  }

  /** A container the daemon finds without its VM (it died while the daemon was down). */
  vmGone(c: ContainerRecord): ContainerRuntimeState {
    const state: ContainerRuntimeState = { status: 'exited', pid: 0, exitCode: 255, finishedAt: nowNs(), reason: 'PodVMDied', message: "the pod's micro-VM is not running" };
    this.ctrs.set(c.id, { podId: c.podId, state, logOffset: 0 });
    return state;
  }

  /**
   * Ships the guest-side CRI log into the kubelet path on the host, from vc.logOffset on. Appends run
   * off the event loop through a bounded queue that pauses the stream when full (log-shipper.ts).
   */
  async followLog(pod: PodVm, c: ContainerRecord, vc: VmContainer, log: Logger): Promise<void> {
    vc.following = true;
    const shipper = new LogShipper({
      append: (b) => appendFile(c.logPath, b),
      onWritten: (n) => (vc.logOffset += n),
      onError: (e, n) => log.warn({ containerId: c.id, err: e.message, droppedBytes: n }, 'cannot write container log'),
    });
    const follow = pod.vm.agent.openStream(
      'follow_logs',
      { container_id: c.id, offset: String(vc.logOffset) },
      {
        onData: (_fd, b) => shipper.push(b),
        onClose: () => {
          vc.following = false;
          vc.logDone = true;
        },
      },
    );
    shipper.setFlow(follow);
    await follow.response.catch((e: unknown) => {
      vc.following = false;
      log.warn({ containerId: c.id, err: (e as Error).message }, 'log follow failed');
    });
  }
}

function nowNs(): string {
  return (BigInt(Date.now()) * 1_000_000n).toString();
}
