// OCI handlers (kind "oci": runc or crun under conmon) as one PodRuntime: the pod controller
// (namespaces, pod cgroup, infra) and the task runtime (containers) over one OciHandler.
import { basename } from 'node:path';
import type { Logger } from 'pino';
import type { OciHandlerConfig } from '../../config/schema.js';
import type { CgroupDriver } from '../../cgroups/driver.js';
import type { OomLedger } from '../../cgroups/oom-ledger.js';
import type { UserNamespaceSupport } from '../pod-controller.js';
import type { HandlerStatus, PodRuntime, PodRuntimeTraits } from '../pod-runtime.js';
import type { ExitWatcher } from './exit-watcher.js';
import { OciHandler } from './oci-handler.js';
import { OciPodController } from './oci-pod-controller.js';
import { OciStreams } from './oci-streams.js';
import { OciTaskRuntime } from './oci-task-runtime.js';

export interface OciRuntimeDeps {
  handler: string;
  config: OciHandlerConfig;
  stateDir: string;
  exitWatcher: ExitWatcher;
  hostOomScoreAdjMin: number;
  log: Logger;
  /** Default: cgroupfs. */
  cgroups?: CgroupDriver;
  /** Default: one reading the host's /sys/fs/cgroup. */
  oomLedger?: OomLedger;
}

export class OciPodRuntime implements PodRuntime {
  readonly kind = 'oci' as const;
  readonly handler: string;
  readonly tool: OciHandler;
  readonly controller: OciPodController;
  readonly tasks: OciTaskRuntime;
  readonly traits: PodRuntimeTraits = { podCgroupLimits: true, appArmor: 'host' };

  constructor(deps: OciRuntimeDeps) {
    this.handler = deps.handler;
    this.tool = new OciHandler(deps);
    const streams = new OciStreams(deps.log.child({ handler: deps.handler }));
    this.controller = new OciPodController(this.tool, streams);
    this.tasks = new OciTaskRuntime(this.tool, deps.exitWatcher, streams, deps.oomLedger);
  }

  userNamespaces(): UserNamespaceSupport {
    return this.tool.userNamespaces();
  }

  status(): HandlerStatus {
    const unavailable = this.tool.available();
    // runc >= 1.1 applies "rro" with mount_setattr (kernel >= 5.12); crun's support is unverified.
    return { ...(unavailable ? { unavailable } : {}), recursiveReadOnlyMounts: !unavailable && basename(this.tool.runtimePath) === 'runc' };
  }

  async close(): Promise<void> {}
}
