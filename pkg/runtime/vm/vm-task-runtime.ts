// The task runtime of micro-VM handlers: containers run inside the pod VM under crun, driven over
// the agent channel. Their rootfs (the host overlay the container manager mounts) and CRI volumes
// reach the guest through the pod's virtio-fs share; logs are shipped back into the kubelet log
// path on the host; exits, a dead VM and reattaching after a restart are guest-containers.ts's.
import { appendFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { constants as osConstants } from 'node:os';
import type { Logger } from 'pino';
import type { VmRuntimeDeps } from './vm-handler-deps.js';
import type { ContainerRecord, SandboxRecord } from '../../store/records.js';
import { KILL_EXIT_WAIT_MS, type ContainerRuntimeState, type ExecSyncExit, type ExecSyncRequest, type ProcessStdio, type StdioOptions, type StopRequest, type TaskRuntime } from '../task-runtime.js';
import { attachInGuest, execInGuest } from './vm-streams.js';
import { sleep } from '../../sys/long-timeout.js';
import type { CgroupStats } from '../../cgroups/stats.js';
import type { OciResources } from '../../oci/spec-types.js';
import { failedPrecondition, internal, invalidArgument } from '../../errors/errors.js';
import { vmProcessAlive } from '../../vm/micro-vm.js';
import { rewriteSpecForGuest } from './guest-spec-rewrite.js';
import { bindIntoShare, guestShareOf, removeFromShare } from './guest-share.js';
import { PodVms, type PodVm } from './pod-vms.js';
import { checkCpusets, pinVcpus, PodCpusets, type Cpusets } from './vcpu-pinning.js';
import { formatCpuList } from '../../sys/cpu-affinity.js';
import { GuestContainers } from './guest-containers.js';
import { cgroupStatsOf, guestResources } from './guest-resources.js';
import { fromAgent, isAgentNotFound } from './agent-errors.js';
import { execSyncInGuest } from './guest-exec.js';
import { checkFits, limitsFromCri, limitsFromOci, sumLimits, type SizingBase } from './vm-size.js';
import { loadPodVmState, podVmDir } from './vm-state.js';
import { readLogBase, writeLogBase } from './log-base.js';
import { AgentFeature } from '../../vmchannel/protocol.js';

const { SIGKILL } = osConstants.signals;

/**
 * How long a container status waits for its pod VM to be reattached after a daemon restart before it
 * answers from the record (the reattach goes on in the background). Reattaching a healthy VM takes
 * tens of ms; a guest that does not answer would otherwise hold start-up recovery (which walks the
 * containers one by one before the CRI socket listens) for its 2 s QMP + 10 s agent + 10 s list timeouts.
 */
const REATTACH_WAIT_MS = 1000;
/**
 * Stats have no start-up to hold: they wait for the whole reattach (2 s QMP + 10 s agent + 10 s list:
 * a guest that never answers gives up at 22 s), so the first stats after a restart are the VM's, not
 * zeroes. 10 s was too short in a cold CI run at load 16 (e2e/vm-pod.spec.ts read 0 bytes).
 */
const STATS_REATTACH_WAIT_MS = 25_000;

export class VmTaskRuntime implements TaskRuntime {
  constructor(
    private readonly deps: VmRuntimeDeps,
    private readonly pods: PodVms,
    private readonly ctrs: GuestContainers,
    private readonly sizing: SizingBase,
  ) {}

  async createContainer(sb: SandboxRecord, c: ContainerRecord, log: Logger): Promise<void> {
    const pod = await this.pods.running(sb.id);
    if ((c.config.devices ?? []).length > 0) throw invalidArgument('host devices cannot be passed into a micro-VM pod');
    const spec = JSON.parse(await readFile(join(c.bundleDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    const privileged = !!c.config.linux?.security_context?.privileged;
    // An agent from before guest-RAM volumes (a VM booted before a daemon upgrade) gets them shared as before.
    const guestRam = pod.vm.agent.supports(AgentFeature.EphemeralVolumes);
    const { spec: guestSpec, shares, cpusets, ephemeral } = rewriteSpecForGuest(spec, c.id, sb.files, undefined, { privileged, ...(guestRam ? {} : { ephemeral: () => undefined }) });
    checkCpusets(`container ${c.id}`, cpusets);
    // Pinned before the guest creates it (a failure leaves nothing in the guest); forgotten again if that fails.
    if (cpusets.cpus || cpusets.mems) await this.pin(sb.id, pod, c.id, cpusets, log);
    const share = guestShareOf(pod.vmDir);
    let guestStart = 0;
    try {
      // The rootfs stays writable on the host (crun in the guest creates mount points in it).
      bindIntoShare(share, { source: c.rootfs, rel: `${c.id}/rootfs`, recursive: true, readonly: false });
      for (const s of shares) bindIntoShare(share, { source: s.source, rel: `${c.id}/${s.name}`, recursive: s.recursive, readonly: s.readonly });
      await writeFile(join(c.bundleDir, 'guest-config.json'), JSON.stringify(guestSpec));
      guestStart = performance.now();
      await pod.vm.agent.call('create_container', { container_id: c.id, spec_json: JSON.stringify(guestSpec), rootfs: { shared_path: `${c.id}/rootfs` }, stdin: c.stdin, tty: c.tty, ephemeral_volumes: ephemeral.map((e) => ({ name: e.name, size_bytes: String(e.sizeBytes), mode: e.mode, uid: e.uid, gid: e.gid })) }, { timeoutMs: 60_000 });
    } catch (e) {
      removeFromShare(share, c.id);
      if (cpusets.cpus || cpusets.mems) await this.pin(sb.id, pod, c.id, undefined, log).catch((e2: unknown) => log.warn({ containerId: c.id, err: (e2 as Error).message }, 'vCPU re-pinning after a failed create failed'));
      throw fromAgent('guest agent', e);
    }
    this.ctrs.set(c.id, { podId: sb.id, state: { status: 'created', pid: 0 }, logOffset: 0 });
    // kubelet reads the log as soon as the container runs; the guest's lines arrive later.
    if (c.logPath) {
      mkdirSync(dirname(c.logPath), { recursive: true });
      appendFileSync(c.logPath, '');
    }
    const guestMs = Math.round(performance.now() - guestStart);
    log.debug({ podId: sb.id, containerId: c.id, shares: shares.length, guestRamVolumes: ephemeral.map((e) => e.name), guestMs }, 'container created in pod VM');
  }

  async startContainer(c: ContainerRecord, log: Logger): Promise<void> {
    const pod = await this.pods.running(c.podId);
    const vc = this.ctrs.get(c.id);
    if (!vc) throw failedPrecondition(`container ${c.id} is not known to the pod VM`);
    // The log file exists once the container started (kubelet and critest open it right away), even
    // before the guest shipped any output.
    if (c.logPath) {
      mkdirSync(dirname(c.logPath), { recursive: true });
      appendFileSync(c.logPath, '');
    }
    const t0 = performance.now();
    await this.ctrs.followLog(pod, c, vc, log);
    const t1 = performance.now();
    const r = await pod.vm.agent.call('start_container', { container_id: c.id }, { timeoutMs: 60_000 }).catch((e: unknown) => {
      throw fromAgent('guest agent', e);
    });
    log.debug({ podId: c.podId, containerId: c.id, followLogMs: Math.round(t1 - t0), guestMs: Math.round(performance.now() - t1) }, 'container started in pod VM');
    vc.state = { status: 'running', pid: r.pid };
    c.pid = vc.state.pid;
    void this.ctrs.watchExit(c.id, pod, log);
  }

  async stopContainer(c: ContainerRecord, stop: StopRequest, log: Logger): Promise<void> {
    if (!this.ctrs.has(c.id)) await this.pods.reattach(c.podId);
    const vc = this.ctrs.get(c.id);
    if (!vc || vc.state.status !== 'running') return;
    const pod = this.pods.get(c.podId);
    if (!pod || pod.dead) return;
    // An agent that cannot wait (container gone, VM died under the call) counts as exited.
    const exit = pod.vm.agent.call('wait_container', { container_id: c.id }).then(() => true, () => true);
    const exitedWithin = async (ms: number): Promise<boolean> => {
      const timer = new AbortController();
      try {
        return await Promise.race([exit, sleep(ms, timer.signal, { unref: true }).then(() => false)]);
      } finally {
        timer.abort();
      }
    };
    if (stop.timeoutMs > 0 && stop.signal !== SIGKILL) {
      await pod.vm.agent.call('signal_container', { container_id: c.id, signal: stop.signal }).catch(() => undefined); // a container already gone counts as stopped: the wait below settles it
      if (await exitedWithin(stop.timeoutMs)) return this.ctrs.settle(c.id);
    }
    log.debug({ containerId: c.id }, 'stop timeout: SIGKILL');
    const killError = await pod.vm.agent.call('signal_container', { container_id: c.id, signal: SIGKILL, all: true }).then(() => undefined, (e: unknown) => e as Error);
    if (!(await exitedWithin(KILL_EXIT_WAIT_MS)) && this.ctrs.get(c.id)?.state.status === 'running') {
      throw internal(`container ${c.id} did not exit after SIGKILL${killError ? ` (${killError.message})` : ''}`);
    }
    await this.ctrs.settle(c.id);
  }

  async removeContainer(c: ContainerRecord, log: Logger): Promise<void> {
    const pod = this.pods.get(c.podId) ?? (await this.pods.reattach(c.podId));
    if (pod && !pod.dead) {
      await pod.vm.agent.call('delete_container', { container_id: c.id }, { timeoutMs: 30_000 }).catch((e: unknown) => {
        if (!isAgentNotFound(e)) log.warn({ containerId: c.id, err: (e as Error).message }, 'guest delete failed');
      });
    }
    if (pod) removeFromShare(guestShareOf(pod.vmDir), c.id);
    this.ctrs.delete(c.id);
    const podDir = join(this.deps.stateDir, 'pods', c.podId);
    if (existsSync(podDir) && new PodCpusets(podDir).get(c.id)) {
      // Its CPUs leave the union; a dead VM has no threads to re-pin (only the record changes).
      if (pod && !pod.dead) await this.pin(c.podId, pod, c.id, undefined, log).catch((e: unknown) => log.warn({ containerId: c.id, err: (e as Error).message }, 'vCPU re-pinning after a removal failed'));
      else new PodCpusets(podDir).set(c.id, undefined);
    }
  }

  /**
   * Records a container's cpusets (undefined: forgets them) and pins the pod VM's vCPU threads to
   * the union of its containers' (none left: QEMU's own affinity back), vcpu-pinning.ts.
   */
  private async pin(podId: string, pod: PodVm, containerId: string, cpusets: Cpusets | undefined, log: Logger): Promise<void> {
    const store = new PodCpusets(join(this.deps.stateDir, 'pods', podId));
    const before = store.get(containerId);
    store.set(containerId, cpusets);
    // The union read again after QMP answered: a concurrent create/update/remove of the pod then
    // pins what the record holds, whichever finishes last.
    const r = await pinVcpus(pod.vm.qmp, pod.vm.pid, () => store.union()).catch((e: unknown) => {
      store.set(containerId, before); // the call fails: the record keeps what the threads were pinned to
      throw e;
    });
    log.info({ podId, containerId, vcpuThreads: r.threads, cpus: formatCpuList(r.cpus) }, 'pod VM vCPU threads pinned');
  }

  async containerState(c: ContainerRecord): Promise<ContainerRuntimeState> {
    if (!this.ctrs.has(c.id) && c.state !== 'CONTAINER_EXITED') await this.pods.reattachWithin(c.podId, REATTACH_WAIT_MS);
    const vc = this.ctrs.get(c.id);
    const pod = this.pods.get(c.podId);
    if (vc && pod && !pod.dead && !vc.following && !vc.logDone && c.logPath && vc.state.status !== 'created') {
      // After a restart: resume shipping where the host log ends; a rotated log starts at the offset
      // shipped before its ReopenContainerLog (log-base.ts).
      // Not awaited: a guest that never answers FollowLogs must not hold the status (or start-up).
      if (vc.logOffset === 0) vc.logOffset = readLogBase(c.bundleDir) + fileSize(c.logPath);
      void this.ctrs.followLog(pod, c, vc, this.deps.log.child({ podId: c.podId, containerId: c.id }));
    }
    const known = this.ctrs.get(c.id)?.state;
    if (known) return known;
    // The VM died while the daemon was down: nothing inside can still run.
    if (c.state !== 'CONTAINER_EXITED' && !vmProcessAlive(podVmDir(join(this.deps.stateDir, 'pods', c.podId)))) return this.ctrs.vmGone(c);
    return { status: c.state === 'CONTAINER_EXITED' ? 'exited' : 'unknown', pid: 0 };
  }

  async execSync(c: ContainerRecord, req: ExecSyncRequest, log: Logger): Promise<ExecSyncExit> {
    return execSyncInGuest((await this.pods.running(c.podId)).vm.agent, c.id, req, log);
  }

  /** cgroup v2 stats of the container inside the guest, via the agent. */
  async containerCgroupStats(c: ContainerRecord): Promise<CgroupStats | undefined> {
    // Right after a daemon restart the pod's VM may still be reattaching (seconds under TCG at load
    // 16): wait for it a while, or the first stats after a restart read as zeroes.
    if (!this.ctrs.has(c.id)) await this.pods.reattachWithin(c.podId, STATS_REATTACH_WAIT_MS);
    const vc = this.ctrs.get(c.id);
    const pod = this.pods.get(c.podId);
    if (!vc || vc.state.status !== 'running' || !pod || pod.dead) return undefined;
    const r = await pod.vm.agent.call('stats', { container_ids: [c.id] }, { timeoutMs: 5000 });
    const st = r.stats[0];
    return st ? cgroupStatsOf(st) : undefined;
  }

  async updateResources(c: ContainerRecord, r: OciResources, others: readonly ContainerRecord[] = []): Promise<void> {
    // An update without a cpuset leaves the container's as it is (as runc update does).
    const cpusets = { cpus: r.cpu?.cpus ?? '', mems: r.cpu?.mems ?? '' };
    checkCpusets(`UpdateContainerResources of container ${c.id}`, cpusets);
    const pod = await this.pods.running(c.podId);
    const have = loadPodVmState(join(this.deps.stateDir, 'pods', c.podId)).size;
    if (have) {
      const rest = others.map((o) => limitsFromCri(o.resources ?? o.config.linux?.resources));
      const now = sumLimits([limitsFromCri(c.resources ?? c.config.linux?.resources), ...rest]);
      checkFits(`UpdateContainerResources of container ${c.id}`, sumLimits([limitsFromOci(r), ...rest]), have, this.sizing, now);
    }
    if (cpusets.cpus || cpusets.mems) {
      // A list the update leaves empty keeps the container's (an update of cpuset_mems alone keeps its CPUs).
      const prev = new PodCpusets(join(this.deps.stateDir, 'pods', c.podId)).get(c.id);
      const merged = { cpus: cpusets.cpus || prev?.cpus || '', mems: cpusets.mems || prev?.mems || '' };
      await this.pin(c.podId, pod, c.id, merged, this.deps.log.child({ podId: c.podId, containerId: c.id }));
    }
    await pod.vm.agent.call('update_resources', { container_id: c.id, resources: guestResources(r) });
  }

  async reopenLog(c: ContainerRecord): Promise<void> {
    // Each chunk is appended by path, so the next write goes to the new file; it exists from now on
    // (as after conmon's reopen). It starts at the offset shipped so far: recorded for a restart.
    const vc = this.ctrs.get(c.id);
    if (vc) writeLogBase(c.bundleDir, vc.logOffset);
    if (c.logPath) appendFileSync(c.logPath, '');
  }

  async exec(c: ContainerRecord, cmd: string[], opts: StdioOptions): Promise<ProcessStdio> {
    return execInGuest((await this.pods.running(c.podId)).vm.agent, c.id, cmd, opts);
  }

  async attach(c: ContainerRecord, opts: StdioOptions): Promise<ProcessStdio> {
    return attachInGuest((await this.pods.running(c.podId)).vm.agent, c.id, c.stdinOnce, opts);
  }

  onExit(listener: (containerId: string) => void): void {
    this.ctrs.onExit(listener);
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
