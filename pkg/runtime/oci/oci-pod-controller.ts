// The pod controller of OCI handlers: pinned namespaces (no pause image), the pod cgroup, and an
// optional catatonit infra for pod-level PID namespaces, run by `runc run -d` (no conmon: nothing
// reads its output or exit code).
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { internal } from '../../errors/errors.js';
import { createPodNamespaces, removePodNamespaces } from '../../network/namespaces.js';
import type { SandboxRecord } from '../../store/records.js';
import { isSameProcessAlive, procStartTime } from '../../sys/proc.js';
import { podUserNamespace } from '../../oci/user-namespace.js';
import { detachAllUnderAsync } from '../../sys/mounts-under.js';
import { buildInfraSpec } from '../../oci/spec-builder.js';
import { resourcesFromCri } from '../../cgroups/pod-cgroup.js';
import type { PodController } from '../pod-controller.js';
import type { OciHandler } from './oci-handler.js';
import { OciRuntimeError } from './runc.js';
import type { OciStreams } from './oci-streams.js';

export const CATATONIT_PATH = '/usr/bin/catatonit';

export class OciPodController implements PodController {
  constructor(
    private readonly h: OciHandler,
    private readonly streams: OciStreams,
  ) {}

  async startSandbox(sb: SandboxRecord, log: Logger, withNamespaces?: () => Promise<void>): Promise<void> {
    this.h.checkAvailable();
    const opts = sb.config.linux?.security_context?.namespace_options;
    const hostNet = opts?.network === 'NODE';
    const hostIpc = opts?.ipc === 'NODE';
    const sysctls = sb.config.linux?.sysctls ?? {};
    await mkdir(sb.stateDir, { recursive: true, mode: 0o711 });
    const user = podUserNamespace(opts, `pod ${sb.config.metadata?.name ?? sb.id}`);
    const ns = await createPodNamespaces({
      ...(user ? { user } : {}),
      dir: join(sb.stateDir, 'ns'),
      net: !hostNet,
      ipc: !hostIpc,
      uts: !hostNet,
      hostname: hostNet ? undefined : sb.config.hostname || undefined,
      sysctls,
    });
    sb.namespaces = { ...ns };
    // The pod cgroup; it carries LinuxPodSandboxConfig.resources only when it is ours (no cgroup_parent).
    await this.h.cgroups.ensurePod(sb.cgroupParent, resourcesFromCri(sb.config.linux?.resources), sb.cgroupOwned);
    const infra = (opts?.pid ?? 'POD') === 'POD' ? this.startInfra(sb, log) : Promise.resolve();
    const net = withNamespaces ? withNamespaces() : Promise.resolve();
    const results = await Promise.allSettled([infra, net]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async startInfra(sb: SandboxRecord, log: Logger): Promise<void> {
    const bundleDir = join(sb.stateDir, 'infra');
    const id = sb.id;
    const rootfs = join(bundleDir, 'rootfs');
    await Promise.all(['proc', 'dev'].map((d) => mkdir(join(rootfs, d), { recursive: true, mode: 0o755 })));
    await writeFile(join(rootfs, 'catatonit'), '', { mode: 0o755 });
    const spec = buildInfraSpec({
      sandbox: {
        id: sb.id,
        config: sb.config,
        netnsPath: sb.namespaces.net,
        ipcnsPath: sb.namespaces.ipc,
        utsnsPath: sb.namespaces.uts,
        ...(sb.namespaces.user ? { usernsPath: sb.namespaces.user } : {}),
        cgroupParent: sb.cgroupParent,
      },
      rootfsPath: rootfs,
      args: ['/catatonit', '-P'],
      cgroupsPath: this.h.cgroups.containerCgroupsPath(sb.cgroupParent, id),
      hostOomScoreAdjMin: this.h.hostOomScoreAdjMin,
      extraMounts: [{ destination: '/catatonit', type: 'bind', source: CATATONIT_PATH, options: ['rbind', 'ro'] }],
    });
    await writeFile(join(bundleDir, 'config.json'), JSON.stringify(spec), { mode: 0o600 });
    // No conmon for the infra: nothing reads its output or exit code, so one `runc run -d` does.
    await mkdir(this.h.runtimeRoot, { recursive: true, mode: 0o700 });
    const pidFile = join(bundleDir, 'pidfile');
    try {
      await this.h.cli.runDetached(id, bundleDir, pidFile);
    } catch (e) {
      await this.h.cli.delete(id, true).catch(() => undefined); // rolling back: the start error below is what the caller gets
      if (e instanceof OciRuntimeError) throw internal(`starting the pod infra process failed: ${e.message}`);
      throw e;
    }
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    const started = { pid, conmonPid: 0 };
    sb.infra = { id, pid, conmonPid: 0, bundleDir, startTime: procStartTime(pid) };
    sb.namespaces.pid = `/proc/${started.pid}/ns/pid`;
    log.debug({ podId: sb.id, infraPid: started.pid }, 'pod infra started');
  }

  sandboxAlive(sb: SandboxRecord): boolean | undefined {
    // Only a pod PID namespace has a sandbox process (catatonit); without one there is nothing to die.
    return sb.infra ? isSameProcessAlive(sb.infra.pid, sb.infra.startTime) : undefined;
  }

  async stopSandbox(sb: SandboxRecord, _log: Logger): Promise<void> {
    if (!sb.infra) return;
    await this.killInfra(sb);
  }

  private async killInfra(sb: SandboxRecord): Promise<void> {
    const infra = sb.infra;
    if (!infra || !isSameProcessAlive(infra.pid, infra.startTime)) return;
    // SIGKILL to the PID namespace's init takes every process of the namespace with it.
    try {
      process.kill(infra.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    for (let i = 0; i < 500 && isSameProcessAlive(infra.pid, infra.startTime); i++) await new Promise((r) => setTimeout(r, 10));
  }

  async removeSandbox(sb: SandboxRecord, log: Logger): Promise<void> {
    // A create interrupted by a crash may have started the infra or pinned namespaces before the
    // record said so: clean up by deterministic names, not only by what the record lists.
    const podPid = (sb.config.linux?.security_context?.namespace_options?.pid ?? 'POD') === 'POD';
    if (sb.infra || (sb.phase === 'creating' && podPid)) {
      await this.killInfra(sb);
      await this.h.cli.delete(sb.id, true).catch((e: unknown) => log.warn({ err: e, podId: sb.id }, 'infra delete failed'));
    }
    const { pid: _pid, ...pinned } = sb.namespaces;
    const nsDir = join(sb.stateDir, 'ns');
    for (const kind of ['net', 'ipc', 'uts', 'user'] as const) {
      if (existsSync(join(nsDir, kind))) pinned[kind] = join(nsDir, kind);
    }
    await removePodNamespaces(pinned);
    // Only a pod cgroup we created is ours to empty: kubelet's cgroup_parent is trusted to be the
    // pod's own, but a misconfigured broad parent must never be mass-killed.
    if (sb.cgroupOwned) await this.h.cgroups.removePod(sb.cgroupParent).catch((e: unknown) => log.warn({ err: e, podId: sb.id }, 'pod cgroup removal failed'));
    if ((await detachAllUnderAsync(sb.stateDir)) > 0) log.warn({ podId: sb.id }, 'stray mounts under the pod state dir were detached');
    await rm(sb.stateDir, { recursive: true, force: true });
  }

  portForward(sb: SandboxRecord, port: number): Promise<Duplex> {
    return this.streams.portForward(sb.namespaces.net, port);
  }
}
